"""The model subcommands' work: ``train``, ``eval``, ``calibrate``, ``score``, ``import-routellm``, ``everyday``.

Their arguments are defined in ``orchestrouter.cli.router_models``, which imports this module only when one
of them runs; ``run(command, args)`` runs one and reports a user error in one line (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrouter.router.calibration import Calibration
from orchestrouter.router.embedders import Embedder, EmbedderError, WordLlamaEmbedder
from orchestrouter.scorer import artifact
from orchestrouter.scorer.engine import ScoringEngine

from . import onnx_graphs
from .build import TrainRequest, train_artifact
from .calibration import DEFAULT_PREMIUM_SHARE, artifact_calibration, threshold_for_share
from .datasets import load_all
from .embedding_cache import EmbeddingCache, default_cache_dir
from .everyday import EVERYDAY_QUERIES, category_report, format_report, load_queries
from .routellm_import import import_checkpoint
from .scoring import embedder_for, read_prompts, score_prompts


def _given(**options: str | None) -> dict[str, Any]:
    """The options the user gave: the others keep the defaults of the function they are passed to."""
    return {name: value for name, value in options.items() if value is not None}


def _wordllama_cache() -> EmbeddingCache:
    return EmbeddingCache(WordLlamaEmbedder())


def _calibration(info: artifact.RouterModelInfo, source: object = "the model") -> Calibration:
    calibration = artifact_calibration(info)
    if calibration is None:
        raise artifact.ArtifactError(f"{source}: no calibration table for the default operating point")
    return calibration


def train(args: argparse.Namespace) -> int:
    out = args.out or artifact.DEFAULT_MODEL_PATH
    data = [] if args.no_data else load_all(args.data_dir)
    request = TrainRequest(
        out=out,
        recipe=args.recipe,
        battles_file=args.battles,
        l2=args.l2,
        **_given(strong=args.strong, weak=args.weak, version=args.version),
    )
    cache = _wordllama_cache()
    print(_train_work_ahead(request, data, cache), file=sys.stderr, flush=True)
    info = train_artifact(request, data, cache)
    print(
        f"wrote {out}: {info.router_id} {info.version}, embedder {info.embedder_name} ({info.embedder_dim}), "
        f"P({info.strong_model} strictly better than {info.weak_model}); "
        f"threshold for 22% premium {_calibration(info).threshold_for_share(0.22):.4f}"
    )
    return 0


def _train_work_ahead(request: TrainRequest, data: list, cache: EmbeddingCache) -> str:
    """The line train prints before it starts: what it trains on, what is still to embed, what it fits."""
    prompts = [p.prompt for p in data]
    sets = ", ".join(sorted({p.source for p in data})) or "none"
    l2 = (
        f"L2 {request.l2:g} as given"
        if request.l2 is not None
        else "L2 chosen on validation folds (one fit per candidate)"
    )
    battles = f" and the battles in {request.battles_file}" if request.battles_file else ""
    return (
        f"train: recipe {request.recipe!r} on {len(set(prompts)):,} prompts (sets: {sets}){battles}, "
        f"{cache.missing(prompts):,} of them to embed first; {l2}; the bars below show the time left"
    )


def evaluate(args: argparse.Namespace) -> int:
    from .evaluate import format_table, run_evaluation, write_outputs

    report = run_evaluation(
        load_all(args.data_dir),
        _wordllama_cache(),
        args.recipe,
        args.mmlu_folds,
        args.arena_folds,
        tuple(args.only or ()),
    )
    written = write_outputs(report, args.out_dir or default_cache_dir() / "eval")
    if args.json:
        print(json.dumps(dict(report.items()), separators=(",", ":")))
    else:
        print(format_table(report))
        print("wrote " + ", ".join(map(str, written)))
    return 0


def _load_engine(args: argparse.Namespace) -> tuple[Path, ScoringEngine, Embedder]:
    """The model named by --model (default: the shipped one), its engine and the embedder it expects."""
    path = args.model or artifact.DEFAULT_MODEL_PATH
    engine = ScoringEngine(path)
    return path, engine, embedder_for(engine.info, args.embeddings_url, args.api_key)


def score(args: argparse.Namespace) -> int:
    rows = read_prompts(args.file)
    _, engine, embedder = _load_engine(args)
    scores = score_prompts([r["prompt"] for r in rows], engine, embedder)
    threshold = args.threshold
    for row, p in zip(rows, scores, strict=True):
        out = {**row, "win_probability": round(float(p), 6)}
        if threshold is not None:
            out["tier"] = "premium" if p >= threshold else "small"
        print(json.dumps(out) if args.json else f"{p:.4f}\t{row['prompt'][:80]!r}")
    return 0


def calibrate(args: argparse.Namespace) -> int:
    rows = read_prompts(args.prompts)
    path, engine, embedder = _load_engine(args)
    scores = score_prompts([r["prompt"] for r in rows], engine, embedder)
    threshold = threshold_for_share(scores, args.premium_share)
    result = {
        "premium_share": args.premium_share,
        "threshold": round(threshold, 6),
        "prompts": len(rows),
        "model": str(path),
    }
    if (reference := artifact_calibration(engine.info)) is not None:
        result["artifact_reference_threshold"] = round(reference.threshold_for_share(args.premium_share), 6)
    print(
        json.dumps(result)
        if args.json
        else f"threshold {threshold:.6f} sends {args.premium_share:.0%} of {len(rows)} prompts to the premium tier"
    )
    return 0


def everyday(args: argparse.Namespace) -> int:
    queries = load_queries(args.file or EVERYDAY_QUERIES)
    path, engine, embedder = _load_engine(args)
    scores = score_prompts([q["prompt"] for q in queries], engine, embedder)
    threshold = _calibration(engine.info, path).threshold_for_share(DEFAULT_PREMIUM_SHARE)
    report = category_report([q["category"] for q in queries], scores, threshold)
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def import_routellm(args: argparse.Namespace) -> int:
    model, info = import_checkpoint(args.dir, **_given(strong=args.strong, weak=args.weak, version=args.version))
    onnx_graphs.save(model, args.out)
    print(
        f"wrote {args.out}: RouteLLM MF, P({info.strong_model} beats {info.weak_model}), "
        f"embedder {info.embedder_name} ({info.embedder_dim}): route with an OpenAI-compatible embeddings endpoint"
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": train,
    "eval": evaluate,
    "calibrate": calibrate,
    "score": score,
    "import-routellm": import_routellm,
    "everyday": everyday,
}


def run(command: str, args: argparse.Namespace) -> int:
    """Runs one model subcommand. A missing file, a value out of range, an unreadable model or an
    embeddings endpoint that fails is one line on stderr and exit code 2, not a traceback."""
    try:
        return COMMANDS[command](args)
    except (OSError, ValueError, EmbedderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
