"""The router-model commands: ``train``, ``eval``, ``calibrate``, ``score``, ``import-routellm``, ``everyday``.

Their arguments are defined here; their work is ``orchestrouter.training.commands``, imported only when
one runs (the train extra; ``eval`` also needs the eval extra). A default that is training's to decide
(the shipped model, the model pair, a version) stays None here and is filled in there.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from orchestrouter.cli import extras
from orchestrouter.cli.data_help import DATA_DIR_ENV, DATA_DIR_HELP, DATA_LAYOUT

# The recipes orchestrouter.training.recipes knows (a test keeps the two the same): argparse needs
# them to check --recipe without importing training.
RECIPES = ("gated", "pair", "mf", "routellm")
DEFAULT_RECIPE = "gated"

_LOCAL_ONLY = "(in-process, no servers)"
_SHIPPED_MODEL = "the router model shipped in the package"


# Libraries the train extra brings that training imports only mid-work (WordLlama when it first embeds,
# safetensors when it reads a checkpoint); eval also draws its PGR curves with the eval extra's matplotlib.
_TRAIN_NEEDS = ("wordllama", "safetensors", "tqdm", "onnx")
_EXTRAS = {"eval": ("eval", (*_TRAIN_NEEDS, "matplotlib"))}


def _run(args: argparse.Namespace) -> int:
    extra, needs = _EXTRAS.get(args.command, ("train", _TRAIN_NEEDS))
    # train --from-store is the learning loop's work (orchestrouter.training.store_commands).
    from_store = getattr(args, "from_store", None)
    module = "orchestrouter.training.store_commands" if from_store else "orchestrouter.training.commands"
    commands = extras.load(args.command, extra, module, *needs)
    if args.command in ("train", "eval") and args.data_dir is None and not getattr(args, "no_data", False):
        raise ValueError(
            f"`orchestrouter {args.command}` needs the benchmark data: give --data-dir DIR or set ${DATA_DIR_ENV} "
            f"(`orchestrouter {args.command} --help` says where each data set comes from and how to lay it out)"
        )
    return commands.run(args.command, args)


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    env = os.environ.get(DATA_DIR_ENV)
    p.add_argument("--data-dir", type=Path, default=Path(env) if env else None, metavar="DIR", help=DATA_DIR_HELP)


def _add_recipe(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default=DEFAULT_RECIPE,
        help="gated (a pair direction plus a gated task prior), pair (the pair direction alone), "
        "mf (N-model matrix factorisation) or routellm (RouteLLM's recipe); default %(default)s",
    )


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, help=f"router model (.onnx); default: {_SHIPPED_MODEL}")
    p.add_argument(
        "--embeddings-url",
        default="",
        help="OpenAI-compatible base URL (…/v1) for a model whose embedder is not the local WordLlama",
    )
    p.add_argument("--api-key", default="", help="bearer token for the embeddings endpoint")


def _parser(
    subparsers: argparse._SubParsersAction, name: str, summary: str, data_layout: bool = False
) -> argparse.ArgumentParser:
    """A subcommand run by ``_run``; ``data_layout`` prints where the data sets come from below its options."""
    if not data_layout:
        p: argparse.ArgumentParser = subparsers.add_parser(name, help=summary, description=summary)
    else:
        p = subparsers.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=DATA_LAYOUT,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    p.set_defaults(func=_run)
    return p


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Adds train, eval, calibrate, score, import-routellm and everyday to an argparse subparsers object."""
    p = _parser(subparsers, "train", "train a router model from the benchmark data and/or battles", data_layout=True)
    p.add_argument("--out", type=Path, default=None, help=f"where to write the router model; default: {_SHIPPED_MODEL}")
    _add_recipe(p)
    p.add_argument("--battles", type=Path, help="JSON lines: prompt, model_a, model_b, winner (model_a|model_b|tie)")
    p.add_argument("--no-data", action="store_true", help="train on --battles only, not the benchmark data")
    p.add_argument(
        "--strong", help="the model the premium tier runs, as named in the data (default: gpt-4-1106-preview)"
    )
    p.add_argument("--weak", help="the model the small tier runs (default: mixtral-8x7b-instruct-v0.1)")
    p.add_argument("--l2", type=float, default=None, help="regularisation (default: chosen on validation folds)")
    p.add_argument("--version", help="version written into the model's metadata (default: the shipped model's)")
    p.add_argument(
        "--from-store",
        metavar="URL",
        help="also learn from the traffic store's judged pairs and feedback (sqlite:///PATH or postgresql://...); "
        "the weight is chosen on a held-out part of the store, and the new and the live model's APGR are "
        "printed on store pairs never trained on (the gated recipe's structure is kept; --recipe and --battles "
        "are not used)",
    )
    p.add_argument(
        "--live-model",
        type=Path,
        default=None,
        help=f"with --from-store: the model in service, to compare with; default: {_SHIPPED_MODEL}",
    )
    _add_data_dir(p)

    p = _parser(subparsers, "eval", "APGR / CPT on held-out MMLU domains, GSM8K and arena prompts", data_layout=True)
    _add_recipe(p)
    p.add_argument(
        "--mmlu-folds", type=int, default=5, help="folds of whole MMLU subject categories held out (default: 5)"
    )
    p.add_argument("--arena-folds", type=int, default=5, help="folds of the arena-bench prompts (default: 5)")
    p.add_argument(
        "--only", nargs="*", choices=("mmlu", "gsm8k", "arena"), help="evaluate these held-out sets only (default: all)"
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="where eval.json and pgr_curves.png go (default: eval/ in the embedding cache folder, "
        "$ORCHESTROUTER_CACHE_DIR or ~/.cache/orchestrouter)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    _add_data_dir(p)

    p = _parser(subparsers, "calibrate", f"threshold for a premium share on your prompts {_LOCAL_ONLY}")
    p.add_argument(
        "--premium-share", type=float, required=True, help="share of the prompts to send to the premium tier, 0 to 1"
    )
    p.add_argument("--prompts", type=Path, required=True, help="JSON lines with 'prompt', or one prompt a line")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    _add_model(p)

    p = _parser(subparsers, "score", f"win probability of each prompt in a file {_LOCAL_ONLY}")
    p.add_argument("--file", type=Path, required=True, help="JSON lines with 'prompt', or one prompt a line")
    p.add_argument("--threshold", type=float, default=None, help="also print the tier at this threshold")
    p.add_argument("--json", action="store_true", help="one JSON line per prompt")
    _add_model(p)

    p = _parser(subparsers, "import-routellm", "convert a RouteLLM MF checkpoint to a router model")
    p.add_argument("dir", type=Path, help="folder with config.json and model.safetensors")
    p.add_argument("--out", type=Path, required=True, help="where to write the router model")
    p.add_argument("--strong", help="the checkpoint's model the premium tier runs (default: gpt-4-1106-preview)")
    p.add_argument("--weak", help="the checkpoint's model the small tier runs (default: mixtral-8x7b-instruct-v0.1)")
    p.add_argument("--version", help="version written into the model's metadata (default: routellm-mf)")

    p = _parser(subparsers, "everyday", f"per-category premium shares on the everyday query set {_LOCAL_ONLY}")
    p.add_argument(
        "--file",
        type=Path,
        default=None,
        help="JSON lines with 'prompt' and 'category' (default: the everyday query set shipped with training)",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    _add_model(p)
