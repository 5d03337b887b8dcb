"""The `orchestrouter` command line: run the services, route a query, train and evaluate."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import grpc

from orchestrouter.router.embedders import EmbedderError
from orchestrouter.training import cli as training_cli

DEFAULT_ROUTER_TARGET = "localhost:50051"


def _serve_scorer(args: argparse.Namespace) -> int:
    from orchestrouter.scorer.server import main

    main()
    return 0


def _serve_router(args: argparse.Namespace) -> int:
    from orchestrouter.router.server import main

    main()
    return 0


def _route(args: argparse.Namespace) -> int:
    from orchestrouter.client import RouteAnswer, RouterClient

    dial = dict(threshold=args.threshold, premium_share=args.premium_share, dry_run=args.dry_run)
    with RouterClient(args.router, timeout_s=args.timeout) as client:
        try:
            if args.stream:
                answer: RouteAnswer | None = None
                text: list[str] = []
                for item in client.route_stream(args.text, **dial):
                    if isinstance(item, str):
                        text.append(item)
                        if not args.json:
                            print(item, end="", flush=True)
                    else:
                        answer = dataclasses.replace(item, answer="".join(text))
                if not args.json:
                    print()
                if answer is None:
                    print("error: the stream ended without its final message", file=sys.stderr)
                    return 1
            else:
                answer = client.route(args.text, **dial)
        except grpc.RpcError as exc:
            print(f"\nerror: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(answer)))
    elif args.stream:
        print(_decision_line(answer))
    else:
        print(_decision_line(answer))
        if answer.answer:
            print(answer.answer)
    return 0


def _decision_line(answer) -> str:
    return (
        f"{answer.tier:7s} p={answer.win_probability:.3f} (threshold {answer.threshold:.3f}) "
        f"model={answer.model} router={answer.router_id}@{answer.router_version}"
        + (" DEGRADED" if answer.degraded else "")
        + (" FELL-BACK" if answer.fell_back else "")
    )


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrouter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve-scorer", help="run the Score service (configured by ORCHESTROUTER_SCORER_*)")
    p.set_defaults(func=_serve_scorer)
    p = sub.add_parser("serve-router", help="run the Route service (configured by ORCHESTROUTER_*)")
    p.set_defaults(func=_serve_router)

    p = sub.add_parser("route", help="route one query through a running router")
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
    p.set_defaults(func=_route)

    training_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except (OSError, ValueError, EmbedderError) as exc:
        # A missing file, a value out of range, an unreadable model: one line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
