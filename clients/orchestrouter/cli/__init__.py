"""The `orchestrouter` command line. Each command imports its own modules only when it runs."""
