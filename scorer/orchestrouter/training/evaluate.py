"""The evaluation protocol: for every held-out split, choose settings on validation folds inside its
training data, train, score the held-out prompts, and report APGR, CPT(50%), CPT(80%), the PGR
curve and a random router's APGR beside them."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .datasets import STRONG, WEAK, ScoredPrompt
from .embedding_cache import EmbeddingCache
from .metrics import pgr_curve, random_router_apgr
from .pipeline import choose_l2, train_on
from .splits import Split, evaluation_splits

CURVE_POINTS = 101


def evaluate_split(split: Split, cache: EmbeddingCache, recipe: str) -> dict:
    test = [p for p in split.test if STRONG in p.scores and WEAK in p.scores]
    l2, validation = choose_l2(split.train, cache, recipe, progress=False)
    router = train_on(split.train, cache, recipe, l2)
    strong = np.array([p.scores[STRONG] for p in test])
    weak = np.array([p.scores[WEAK] for p in test])
    scores = router.win_probability(cache.embed([p.prompt for p in test], progress=False))
    curve = pgr_curve(scores, strong, weak)
    rand_mean, rand_std = random_router_apgr(strong, weak)
    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    return {
        "split": split.name,
        "n_test": len(test),
        "n_train_prompts": len(split.train),
        "apgr": round(curve.apgr(), 4),
        "cpt50": round(curve.cpt(0.5), 4),
        "cpt80": round(curve.cpt(0.8), 4),
        "random_apgr_mean": round(rand_mean, 4),
        "random_apgr_std": round(rand_std, 4),
        "chosen_l2": l2 if recipe in ("pair", "gated") else None,
        "router": router.describe(),
        "validation_apgr": {str(k): round(v, 4) for k, v in validation.items()},
        "mean_win_probability": round(float(scores.mean()), 4),
        "curve": {
            "premium_share": grid.round(4).tolist(),
            "pgr": np.interp(grid, curve.strong_share, curve.pgr).round(4).tolist(),
        },
    }


def _summary(rows: list[dict]) -> dict:
    return {
        "apgr_mean": round(float(np.mean([r["apgr"] for r in rows])), 4),
        "random_apgr_mean": round(float(np.mean([r["random_apgr_mean"] for r in rows])), 4),
        "folds": rows,
    }


def run_evaluation(
    data: Sequence[ScoredPrompt],
    cache: EmbeddingCache,
    recipe: str = "pair",
    mmlu_folds: int = 5,
    arena_folds: int = 5,
    only: Sequence[str] = (),
) -> dict:
    families = evaluation_splits(data, mmlu_folds, arena_folds)
    if only:
        families = {k: v for k, v in families.items() if k in only}
    todo = [(name, s) for name, splits in families.items() for s in splits]
    print(work_ahead(todo, data, cache, recipe), file=sys.stderr, flush=True)
    results: dict[str, list[dict]] = {name: [] for name in families}
    for name, split in tqdm(todo, desc=f"evaluating recipe {recipe!r}"):
        results[name].append(evaluate_split(split, cache, recipe))
    return {
        "recipe": recipe,
        "embedder": cache.embedder.name,
        "strong": STRONG,
        "weak": WEAK,
        "sets": {name: _summary(rows) for name, rows in results.items()},
    }


def work_ahead(
    todo: Sequence[tuple[str, Split]], data: Sequence[ScoredPrompt], cache: EmbeddingCache, recipe: str
) -> str:
    """The line eval prints before it starts: how many splits and prompts, and what is still to embed."""
    per_set = Counter(name for name, _ in todo)
    prompts = [p.prompt for p in data]
    return (
        f"eval: recipe {recipe!r} on {len(todo)} held-out splits ("
        + ", ".join(f"{name} {n}" for name, n in per_set.items())
        + f") over {len(set(prompts)):,} prompts, {cache.missing(prompts):,} of them to embed first; each split "
        "chooses L2 on validation folds, then trains and tests a router: the bars below show the time left "
        "(for the splits, once the first is done)"
    )


def format_table(report: dict) -> str:
    lines = [
        f"recipe {report['recipe']}, embedder {report['embedder']} ({report['strong']} vs {report['weak']})",
        f"{'split':<14}{'n':>6}{'APGR':>8}{'CPT50':>8}{'CPT80':>8}{'random':>16}{'L2':>8}",
    ]
    for name, summary in report["sets"].items():
        for r in summary["folds"]:
            rand = f"{r['random_apgr_mean']:.3f}±{r['random_apgr_std']:.3f}"
            lines.append(
                f"{r['split']:<14}{r['n_test']:>6}{r['apgr']:>8.3f}{r['cpt50']:>8.3f}{r['cpt80']:>8.3f}"
                f"{rand:>16}{r['chosen_l2']:>8g}"
            )
        lines.append(
            f"{name + ' mean':<14}{'':>6}{summary['apgr_mean']:>8.3f}{'':>16}{summary['random_apgr_mean']:>16.3f}"
        )
    return "\n".join(lines)


def write_outputs(report: dict, out_dir: Path) -> list[Path]:
    """Writes the metrics as JSON and the PGR curves as one PNG (needs matplotlib: the eval extra)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "eval.json"]
    written[0].write_text(json.dumps(report, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(report["sets"]), figsize=(5 * len(report["sets"]), 4.5), squeeze=False)
    for ax, (name, summary) in zip(axes[0], report["sets"].items(), strict=True):
        for r in summary["folds"]:
            ax.plot(r["curve"]["premium_share"], r["curve"]["pgr"], label=f"{r['split']} ({r['apgr']:.3f})")
        ax.plot([0, 1], [0, 1], "k--", label="random")
        ax.set(title=f"{name}: mean APGR {summary['apgr_mean']:.3f}", xlabel="premium share", ylabel="PGR")
        ax.legend(fontsize=7)
    fig.tight_layout()
    png = out_dir / "pgr_curves.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return written + [png]
