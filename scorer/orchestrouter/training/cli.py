"""``orchestrouter train | eval | calibrate | score | import-routellm | everyday``.

``register(subparsers)`` adds the subcommands to the project CLI; ``python -m orchestrouter.training.cli``
runs them on their own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from orchestrouter.scorer import artifact

from . import onnx_graphs
from .build import VERSION
from .datasets import DATA_DIR_ENV, STRONG, WEAK, default_data_dir
from .embedding_cache import default_cache_dir

_LOCAL_ONLY = "(in-process, no servers)"


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"benchmark data folder (default ${DATA_DIR_ENV} or {default_data_dir()})",
    )


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=artifact.DEFAULT_MODEL_PATH, help="router model (.onnx)")
    p.add_argument("--embeddings-url", default="", help="OpenAI-compatible base URL (…/v1) for non-local embedders")
    p.add_argument("--api-key", default="", help="bearer token for the embeddings endpoint")


def _wordllama_cache():
    from orchestrouter.router.embedders import WordLlamaEmbedder

    from .embedding_cache import EmbeddingCache

    return EmbeddingCache(WordLlamaEmbedder())


def _train(args: argparse.Namespace) -> int:
    from .build import TrainRequest, train_artifact
    from .datasets import load_all

    data = [] if args.no_data else load_all(args.data_dir)
    request = TrainRequest(
        out=args.out,
        recipe=args.recipe,
        battles_file=args.battles,
        strong=args.strong,
        weak=args.weak,
        l2=args.l2,
        version=args.version,
    )
    info = train_artifact(request, data, _wordllama_cache())
    print(
        f"wrote {args.out}: {info.router_id} {info.version}, embedder {info.embedder_name} ({info.embedder_dim}), "
        f"P({info.strong_model} strictly better than {info.weak_model}); "
        f"threshold for 22% premium {_calibration(info).threshold_for_share(0.22):.4f}"
    )
    return 0


def _calibration(info, source: object = "the model"):
    from .calibration import artifact_calibration

    calibration = artifact_calibration(info)
    if calibration is None:
        raise artifact.ArtifactError(f"{source}: no calibration table for the default operating point")
    return calibration


def _eval(args: argparse.Namespace) -> int:
    from .datasets import load_all
    from .evaluate import format_table, run_evaluation, write_outputs

    report = run_evaluation(
        load_all(args.data_dir),
        _wordllama_cache(),
        args.recipe,
        args.mmlu_folds,
        args.arena_folds,
        tuple(args.only or ()),
    )
    written = write_outputs(report, args.out_dir)
    if args.json:
        print(json.dumps({k: v for k, v in report.items()}, separators=(",", ":")))
    else:
        print(format_table(report))
        print("wrote " + ", ".join(map(str, written)))
    return 0


def _load_scorer(args: argparse.Namespace):
    from .scoring import ArtifactScorer, embedder_for

    scorer = ArtifactScorer(args.model)
    return scorer, embedder_for(scorer.info, args.embeddings_url, args.api_key)


def _score(args: argparse.Namespace) -> int:
    from .scoring import read_prompts, score_prompts

    rows = read_prompts(args.file)
    scorer, embedder = _load_scorer(args)
    scores = score_prompts([r["prompt"] for r in rows], scorer, embedder)
    threshold = args.threshold
    for row, p in zip(rows, scores):
        out = {**row, "win_probability": round(float(p), 6)}
        if threshold is not None:
            out["tier"] = "premium" if p >= threshold else "small"
        print(json.dumps(out) if args.json else f"{p:.4f}\t{row['prompt'][:80]!r}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from .calibration import artifact_calibration, threshold_for_share
    from .scoring import read_prompts, score_prompts

    rows = read_prompts(args.prompts)
    scorer, embedder = _load_scorer(args)
    scores = score_prompts([r["prompt"] for r in rows], scorer, embedder)
    threshold = threshold_for_share(scores, args.premium_share)
    result = {
        "premium_share": args.premium_share,
        "threshold": round(threshold, 6),
        "prompts": len(rows),
        "model": str(args.model),
    }
    if (reference := artifact_calibration(scorer.info)) is not None:
        result["artifact_reference_threshold"] = round(reference.threshold_for_share(args.premium_share), 6)
    print(
        json.dumps(result)
        if args.json
        else f"threshold {threshold:.6f} sends {args.premium_share:.0%} of {len(rows)} prompts to the premium tier"
    )
    return 0


def _everyday(args: argparse.Namespace) -> int:
    from .calibration import DEFAULT_PREMIUM_SHARE
    from .everyday import category_report, format_report, load_queries
    from .scoring import score_prompts

    queries = load_queries(args.file)
    scorer, embedder = _load_scorer(args)
    scores = score_prompts([q["prompt"] for q in queries], scorer, embedder)
    threshold = _calibration(scorer.info, args.model).threshold_for_share(DEFAULT_PREMIUM_SHARE)
    report = category_report([q["category"] for q in queries], scores, threshold)
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def _import_routellm(args: argparse.Namespace) -> int:
    from .routellm_import import import_checkpoint

    model, info = import_checkpoint(args.dir, args.strong, args.weak, args.version)
    onnx_graphs.save(model, args.out)
    print(
        f"wrote {args.out}: RouteLLM MF, P({info.strong_model} beats {info.weak_model}), "
        f"embedder {info.embedder_name} ({info.embedder_dim}): route with an OpenAI-compatible embeddings endpoint"
    )
    return 0


def register(subparsers) -> None:
    """Adds train, eval, calibrate, score, import-routellm and everyday to an argparse subparsers object."""
    from .everyday import EVERYDAY_QUERIES
    from .recipes import DEFAULT_RECIPE, RECIPES

    p = subparsers.add_parser("train", help="train a router model from the benchmark data and/or battles")
    p.add_argument("--out", type=Path, default=artifact.DEFAULT_MODEL_PATH)
    p.add_argument("--recipe", choices=RECIPES, default=DEFAULT_RECIPE)
    p.add_argument("--battles", type=Path, help="JSON lines: prompt, model_a, model_b, winner (model_a|model_b|tie)")
    p.add_argument("--no-data", action="store_true", help="train on --battles only, not the benchmark data")
    p.add_argument("--strong", default=STRONG)
    p.add_argument("--weak", default=WEAK)
    p.add_argument("--l2", type=float, default=None, help="regularisation (default: chosen on validation folds)")
    p.add_argument("--version", default=VERSION)
    _add_data_dir(p)
    p.set_defaults(func=_train)

    p = subparsers.add_parser("eval", help="APGR / CPT on held-out MMLU domains, GSM8K and arena prompts")
    p.add_argument("--recipe", choices=RECIPES, default=DEFAULT_RECIPE)
    p.add_argument("--mmlu-folds", type=int, default=5)
    p.add_argument("--arena-folds", type=int, default=5)
    p.add_argument("--only", nargs="*", choices=("mmlu", "gsm8k", "arena"))
    p.add_argument(
        "--out-dir",
        type=Path,
        default=default_cache_dir() / "eval",
        help="where eval.json and pgr_curves.png go (default: the cache folder, outside the repo)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    _add_data_dir(p)
    p.set_defaults(func=_eval)

    p = subparsers.add_parser("calibrate", help=f"threshold for a premium share on your prompts {_LOCAL_ONLY}")
    p.add_argument("--premium-share", type=float, required=True)
    p.add_argument("--prompts", type=Path, required=True, help="JSON lines with 'prompt', or one prompt a line")
    p.add_argument("--json", action="store_true")
    _add_model(p)
    p.set_defaults(func=_calibrate)

    p = subparsers.add_parser("score", help=f"win probability of each prompt in a file {_LOCAL_ONLY}")
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--threshold", type=float, default=None, help="also print the tier at this threshold")
    p.add_argument("--json", action="store_true", help="one JSON line per prompt")
    _add_model(p)
    p.set_defaults(func=_score)

    p = subparsers.add_parser("import-routellm", help="convert a RouteLLM MF checkpoint to a router model")
    p.add_argument("dir", type=Path, help="folder with config.json and model.safetensors")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--strong", default="gpt-4-1106-preview")
    p.add_argument("--weak", default="mixtral-8x7b-instruct-v0.1")
    p.add_argument("--version", default="routellm-mf")
    p.set_defaults(func=_import_routellm)

    p = subparsers.add_parser("everyday", help=f"per-category premium shares on the everyday query set {_LOCAL_ONLY}")
    p.add_argument("--file", type=Path, default=EVERYDAY_QUERIES)
    p.add_argument("--json", action="store_true")
    _add_model(p)
    p.set_defaults(func=_everyday)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrouter.training.cli", description=__doc__)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (artifact.ArtifactError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
