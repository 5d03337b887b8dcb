"""Tools built on the services: the process launcher, the `make run` demo and `make bench`."""
