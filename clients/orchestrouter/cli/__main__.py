"""`python -m orchestrouter.cli`: the same as the `orchestrouter` command."""

from orchestrouter.cli.main import main

main()
