"""``orchestrouter route``: one query through a running router; grpc and the client load when it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrouter.client import RouteAnswer

DEFAULT_ROUTER_TARGET = "localhost:50051"


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``route`` and its options."""
    p = subparsers.add_parser("route", help="route one query through a running router")
    p.add_argument("text", help="the user message")
    p.add_argument(
        "--router",
        default=os.environ.get("ORCHESTROUTER_ROUTER_TARGET", DEFAULT_ROUTER_TARGET),
        help="router address (default: $ORCHESTROUTER_ROUTER_TARGET or %(default)s)",
    )
    dial = p.add_mutually_exclusive_group()
    dial.add_argument("--threshold", type=float, help="raw threshold for this request")
    dial.add_argument("--premium-share", type=float, help="target premium share for this request")
    p.add_argument("--dry-run", action="store_true", help="decide only; call no model endpoint")
    p.add_argument(
        "--stream",
        action="store_true",
        help="print the answer as it streams (RouteStream); with --json, one object at the end",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=_positive_seconds, default=120.0, help="deadline in seconds")
    _add_tls_options(p)
    p.add_argument(
        "--token-file",
        default=os.environ.get("ORCHESTROUTER_TOKEN_FILE", ""),
        metavar="PATH",
        help="file holding the bearer token to present, for a router that requires one "
        "(default: $ORCHESTROUTER_TOKEN_FILE)",
    )
    p.set_defaults(func=_route)


def _add_tls_options(p: argparse.ArgumentParser) -> None:
    """--ca-file, --cert-file, --key-file: TLS to the router (any of them set turns it on)."""
    tls = p.add_argument_group("TLS (plaintext unless one is set)")
    tls.add_argument(
        "--ca-file",
        default=os.environ.get("ORCHESTROUTER_TLS_CA_FILE") or None,
        help="PEM CA that signs the router's certificate (default: $ORCHESTROUTER_TLS_CA_FILE)",
    )
    tls.add_argument(
        "--cert-file",
        default=os.environ.get("ORCHESTROUTER_TLS_CLIENT_CERT_FILE") or None,
        help="PEM client certificate, for a router requiring mTLS (default: $ORCHESTROUTER_TLS_CLIENT_CERT_FILE)",
    )
    tls.add_argument(
        "--key-file",
        default=os.environ.get("ORCHESTROUTER_TLS_CLIENT_KEY_FILE") or None,
        help="PEM key of --cert-file (default: $ORCHESTROUTER_TLS_CLIENT_KEY_FILE)",
    )


def _route(args: argparse.Namespace) -> int:
    import grpc

    from orchestrouter.cli import rpc_errors
    from orchestrouter.client import RouterClient

    target = rpc_errors.check_target(args.router, DEFAULT_ROUTER_TARGET)
    dial = dict(threshold=args.threshold, premium_share=args.premium_share, dry_run=args.dry_run)
    streamed: list[str] = []
    # One attempt: a person at a terminal is told at once that nothing answers, and runs it again.
    with RouterClient(
        target,
        timeout_s=args.timeout,
        token=_read_token(args.token_file),
        tls_ca_file=args.ca_file,
        tls_cert_file=args.cert_file,
        tls_key_file=args.key_file,
        retry=None,
    ) as client:
        try:
            if args.stream:
                answer = _stream(client.route_stream(args.text, **dial), streamed, echo=not args.json)
                if answer is None:
                    print("error: the stream ended without its final message", file=sys.stderr)
                    return 1
            else:
                answer = client.route(args.text, **dial)
        except grpc.RpcError as exc:
            if streamed and not args.json:
                print()  # end the half-printed answer's line before the error's
            tls = bool(args.ca_file or args.cert_file or args.key_file)
            line = rpc_errors.describe(exc.code().name, exc.details() or "", target, tls, args.timeout)
            print(f"error: {line}", file=sys.stderr)
            return 1
    if args.json:
        fields = answer.to_dict()
        if args.stream:
            fields["answer"] = "".join(streamed)
        print(json.dumps(fields))
        return 0
    print(decision_line(answer))
    if not args.stream and answer.answer:
        print(answer.answer)
    return 0


def _read_token(path: str) -> str | None:
    """The token in the file at path, or None without a path; ValueError says what is wrong, not the token."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as exc:
        raise ValueError(f"--token-file: cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"--token-file: {path} is not UTF-8 text") from None
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError(f"--token-file: {path} must hold one token: printable characters without spaces")
    return token


def _stream(events, streamed: list[str], echo: bool) -> RouteAnswer | None:
    """Collects (and with ``echo`` prints) the text deltas; returns the final answer, or None if none came."""
    answer = None
    for item in events:
        if isinstance(item, str):
            streamed.append(item)
            if echo:
                print(item, end="", flush=True)
        else:
            answer = item
    if echo:
        print()
    return answer


def decision_line(answer: RouteAnswer) -> str:
    """The one-line summary of a decision that ``route`` prints above the answer."""
    return (
        f"{answer.tier:7s} p={answer.win_probability:.3f} (threshold {answer.threshold:.3f}) "
        f"model={answer.model} router={answer.router_id}@{answer.router_version}"
        + (" DEGRADED" if answer.degraded else "")
        + (" FELL-BACK" if answer.fell_back else "")
        + (" BUDGET-LIMITED" if answer.budget_limited else "")
    )
