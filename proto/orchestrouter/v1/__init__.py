"""The orchestrouter.v1 API, generated from the .proto files beside this one by `make proto`."""
