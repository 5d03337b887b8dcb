"""The `orchestrouter` command line: run the services, route a query, train and evaluate, keep the store.

Every subcommand's arguments are defined in this package, which imports only argparse and the standard
library; a command's own module is imported when it runs. So `orchestrouter route --help` loads no
server, ONNX or training code, and a command whose extra is not installed is still listed and, run,
says which extra to install.
"""

from __future__ import annotations

import argparse
import sys

from orchestrouter.cli import learning, route, router_models, serve, store
from orchestrouter.cli.extras import MissingExtra

_SUMMARY = "The `orchestrouter` command line: run the services, route a query, train and evaluate."


class _VersionAction(argparse.Action):
    """--version: the installed package's version, read only when asked (importlib.metadata is not free)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the installed version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("orchestrouter")
        except PackageNotFoundError:
            installed = "unknown (not installed as a package)"
        print(f"orchestrouter {installed}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrouter", description=_SUMMARY)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_commands(sub)
    route.add_command(sub)
    router_models.add_commands(sub)
    learning.add_commands(sub)
    store.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command and returns its exit code; a usage error exits 2 (argparse's SystemExit)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError, MissingExtra) as exc:
        # A missing file, a value out of range, an extra not installed: one line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
