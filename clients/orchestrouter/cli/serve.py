"""``orchestrouter serve-scorer`` and ``serve-router``: each imports its server only when it runs."""

from __future__ import annotations

import argparse
import os

from orchestrouter.cli import extras


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Adds serve-scorer and serve-router (configured by environment variables, so no options)."""
    p = subparsers.add_parser("serve-scorer", help="run the Score service (configured by ORCHESTROUTER_SCORER_*)")
    p.set_defaults(func=_serve_scorer)
    p = subparsers.add_parser("serve-router", help="run the Route service (configured by ORCHESTROUTER_*)")
    p.set_defaults(func=_serve_router)


def quiet_grpc_core() -> None:
    """Limits gRPC core's own logging (C++, straight to stderr) to errors, unless GRPC_VERBOSITY is set.

    At its default it logs a peer's HTTP/2 GOAWAY debug text verbatim, newlines included, so any
    client could write forged lines into a server's log. Core reads the variable once, when grpc
    is first imported, so this runs before the server module (and grpc) is loaded.
    """
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def _serve_scorer(args: argparse.Namespace) -> int:
    quiet_grpc_core()
    extras.load("serve-scorer", "scorer", "orchestrouter.scorer.server").main()
    return 0


def _serve_router(args: argparse.Namespace) -> int:
    quiet_grpc_core()
    extras.load("serve-router", "router", "orchestrouter.router.server").main()
    return 0
