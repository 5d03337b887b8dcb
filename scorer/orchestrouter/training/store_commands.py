"""The learning-loop commands' work: ``judge``, ``tune`` and ``train --from-store``.

Arguments are defined in ``orchestrouter.cli.learning`` (and ``router_models`` for ``train``); ``run``
reports a user error, a store failure or an unusable judge in one line with exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import asdict

from orchestrouter.router.embedders import EmbedderError
from orchestrouter.scorer import artifact
from orchestrouter.store import StoreError, open_store

from .judge import JudgeError, JudgeSettings, judge_store


def judge(args: argparse.Namespace) -> int:
    api_key = args.judge_api_key_file.read_text().strip() if args.judge_api_key_file else ""
    settings = JudgeSettings(
        base_url=args.judge_base_url,
        model=args.judge_model,
        api_key=api_key,
        concurrency=args.concurrency,
        limit=args.limit,
        price_in=args.judge_price_in,
        price_out=args.judge_price_out,
        timeout_s=args.timeout_s,
    )
    store = open_store(args.store)
    try:
        report = asyncio.run(judge_store(store, settings, progress=not args.no_progress))
    finally:
        store.close()
    print(report.summary(settings.model))
    # Pairs whose judge calls failed are left for the next run; the exit status says so, so that a
    # scheduled job notices a judge that keeps failing.
    return 1 if report.failed else 0


def tune(args: argparse.Namespace) -> int:
    from .tune import tune as propose
    from .tune import write_env

    store = open_store(args.store)
    try:
        result = propose(
            store, premium_share=args.premium_share, max_cost_per_1k=args.max_cost_per_1k, since_days=args.since_days
        )
    finally:
        store.close()
    print(json.dumps(asdict(result)) if args.json else result.report())
    if args.write:
        write_env(args.write, result)
        if not args.json:
            print(f"wrote ORCHESTROUTER_THRESHOLD={result.threshold:.6f} to {args.write}")
    return 0


def train_from_store(args: argparse.Namespace) -> int:
    from .commands import _wordllama_cache
    from .datasets import load_all
    from .from_store import retrain_from_store

    out = args.out
    if args.battles:
        raise ValueError("give --battles or --from-store, not both")
    if out is None:
        raise ValueError("`train --from-store` needs --out FILE (the shipped model is not overwritten)")
    live = args.live_model or artifact.DEFAULT_MODEL_PATH
    store = open_store(args.from_store)
    try:
        pairs = list(store.pairs(judged_only=False))
    finally:
        store.close()
    data = [] if args.no_data else load_all(args.data_dir)
    result = retrain_from_store(pairs, data, _wordllama_cache(), out, live, version=args.version)
    print(result.report(live, out))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "judge": judge,
    "tune": tune,
    "train": train_from_store,
}


def run(command: str, args: argparse.Namespace) -> int:
    try:
        return COMMANDS[command](args)
    except (OSError, ValueError, EmbedderError, StoreError, JudgeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
