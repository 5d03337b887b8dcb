"""The learning-loop commands: ``judge`` and ``tune`` (``train --from-store`` is ``train``'s option).

Their arguments are defined here; their work is ``orchestrouter.training.store_commands``, imported only
when one runs (the train extra).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from orchestrouter.cli import extras

STORE_ENV = "ORCHESTROUTER_STORE"
STORE_HELP = (
    "the traffic store: sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB "
    f"(default: ${STORE_ENV}, which keeps a password off the command line)"
)


def _run(args: argparse.Namespace) -> int:
    return extras.load(args.command, "train", "orchestrouter.training.store_commands").run(args.command, args)


def _add_store(p: argparse.ArgumentParser) -> None:
    default = os.environ.get(STORE_ENV) or None
    p.add_argument("--store", required=default is None, default=default, metavar="URL", help=STORE_HELP)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Adds judge and tune to an argparse subparsers object."""
    summary = "label the store's unjudged shadow pairs with an OpenAI-compatible judge model (MT-Bench pair-v2)"
    p = subparsers.add_parser("judge", help=summary, description=summary)
    p.set_defaults(func=_run)
    _add_store(p)
    p.add_argument("--judge-base-url", required=True, metavar="URL", help="OpenAI-compatible base URL (…/v1)")
    p.add_argument("--judge-model", required=True, metavar="NAME", help="the judge model's name at that endpoint")
    p.add_argument("--judge-api-key-file", type=Path, metavar="FILE", help="file holding the judge's bearer token")
    p.add_argument("--concurrency", type=int, default=8, help="pairs judged at once (2 calls each); default 8")
    p.add_argument("--limit", type=int, default=None, help="judge at most this many pairs (default: all)")
    p.add_argument("--judge-price-in", type=float, default=0.0, help="USD per 1M prompt tokens (for the cost)")
    p.add_argument("--judge-price-out", type=float, default=0.0, help="USD per 1M completion tokens")
    p.add_argument("--timeout-s", type=float, default=60.0, help="seconds per judge call before a retry; default 60")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    summary = "propose the threshold for a premium share or a cost ceiling from the store's recent traffic"
    p = subparsers.add_parser("tune", help=summary, description=summary)
    p.set_defaults(func=_run)
    _add_store(p)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--premium-share", type=float, help="share of requests to send to the premium tier, 0 to 1")
    target.add_argument("--max-cost-per-1k", type=float, metavar="USD", help="cost ceiling per 1,000 requests")
    p.add_argument("--since-days", type=float, default=7.0, help="traffic of the last N days (default 7)")
    p.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="set ORCHESTROUTER_THRESHOLD in this router env file (e.g. deploy/k8s/overlays/production/router.env)",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
