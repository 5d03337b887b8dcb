"""`python -m orchestrouter.cli`: the same as the `orchestrouter` command."""

import sys

from orchestrouter.cli.main import main

sys.exit(main())
