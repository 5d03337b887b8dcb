"""``orchestrouter store purge`` and ``store migrate``: the traffic store by hand; it loads when they run."""

from __future__ import annotations

import argparse
import os
import sys
import time

from orchestrouter.cli import extras

DAY_S = 86_400.0
STORE_HELP = (
    "sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: $ORCHESTROUTER_STORE; "
    "the variable keeps a password off the command line)"
)


def _days(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of days >= 0, got {text}")
    return value


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``store`` with its ``purge`` and ``migrate`` subcommands."""
    store = subparsers.add_parser("store", help="purge or migrate the traffic store (ORCHESTROUTER_STORE)")
    sub = store.add_subparsers(dest="store_command", required=True, help="what to do to the store")

    purge = sub.add_parser(
        "purge",
        help="delete stored requests (prompt text, answers, judgments, feedback)",
        description="Deletes the stored requests that match every option given, with their prompt text, "
        "answers, judgments and feedback, and prints how many.",
    )
    _add_store_option(purge)
    purge.add_argument("--older-than-days", type=_days, metavar="N", help="requests created more than N days ago")
    purge.add_argument("--request-id", action="append", default=[], metavar="ID", help="this request (repeat for more)")
    purge.add_argument("--caller", help="requests made by this caller ('' for those made with auth off)")
    purge.set_defaults(func=_purge, parser=purge)

    migrate = sub.add_parser("migrate", help="create or upgrade the store's schema (the router also does at start)")
    _add_store_option(migrate)
    migrate.set_defaults(func=_migrate)


def _add_store_option(p: argparse.ArgumentParser) -> None:
    url = os.environ.get("ORCHESTROUTER_STORE", "")
    p.add_argument("--store", default=url, required=not url, metavar="URL", help=STORE_HELP)


def _purge(args: argparse.Namespace) -> int:
    if args.older_than_days is None and not args.request_id and args.caller is None:
        args.parser.error("give at least one of --older-than-days, --request-id, --caller")
    store_lib = extras.load("store purge", "router", "orchestrouter.store")
    older_than = None if args.older_than_days is None else time.time() - args.older_than_days * DAY_S
    try:
        store = store_lib.open_store(args.store)
        try:
            purged = store.purge(older_than=older_than, request_ids=args.request_id, caller=args.caller)
        finally:
            store.close()
    except store_lib.StoreError as exc:  # its message holds no password
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"purged {purged} requests from {store.url_for_display}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    store_lib = extras.load("store migrate", "router", "orchestrouter.store")
    try:
        store = store_lib.open_store(args.store)
        store.close()
    except store_lib.StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    applied = ", ".join(map(str, store.migrations_applied)) or "none, already current"
    print(f"migrated {store.url_for_display}: schema versions applied: {applied}")
    return 0
