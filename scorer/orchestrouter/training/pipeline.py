"""From scored prompts to a trained router: which battles each recipe takes, embedding, and the
choice of the regularisation strength on a validation split inside the training data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from .battles import BattleBuilder, Battles, add_scored_prompts
from .datasets import STRONG, WEAK, ScoredPrompt
from .embedding_cache import EmbeddingCache
from .metrics import pgr_curve
from .recipes import DEFAULT_L2, TrainedRouter, train_recipe
from .splits import category_folds, holding_out_categories

L2_GRID = (10.0, 100.0, 1000.0)
_PAIR = [(STRONG, WEAK)]
# The pair recipe learns from the scored pair's own battles; the MF recipes from every model's.
PAIR_SOURCES = {"mmlu": _PAIR, "gsm8k": _PAIR, "arena": _PAIR}
ALL_SOURCES = {"mmlu": _PAIR, "gsm8k": _PAIR, "arena": None, "mmlu-pro": None, "llmrouter": None}
MAX_PAIRS_PER_PROMPT = 12


def build_battles(prompts: Sequence[ScoredPrompt], recipe: str, builder: BattleBuilder | None = None) -> Battles:
    builder = builder or BattleBuilder([STRONG, WEAK])
    sources = PAIR_SOURCES if recipe == "pair" else ALL_SOURCES
    add_scored_prompts(builder, prompts, sources, max_pairs_per_prompt=MAX_PAIRS_PER_PROMPT)
    return builder.build()


def train_on(
    prompts: Sequence[ScoredPrompt],
    cache: EmbeddingCache,
    recipe: str,
    l2: float = DEFAULT_L2,
    strong: str = STRONG,
    weak: str = WEAK,
    progress: bool = False,
) -> TrainedRouter:
    if recipe == "gated":
        from .gated import train_gated

        return train_gated(prompts, cache, l2)[0]
    battles = build_battles(prompts, recipe)
    return train_recipe(
        recipe, battles, cache.embed(battles.prompts, progress=progress), strong, weak, l2=l2, progress=progress
    )


def validation_apgr(
    prompts: Sequence[ScoredPrompt], cache: EmbeddingCache, recipe: str, l2: float, folds: int = 3
) -> float:
    """Mean APGR over leave-categories-out folds of the MMLU prompts *inside* ``prompts``."""
    values = []
    for held in category_folds(prompts, folds):
        split = holding_out_categories(prompts, held)
        if not split.test:
            continue
        router = train_on(split.train, cache, recipe, l2)
        strong = np.array([p.scores[STRONG] for p in split.test])
        weak = np.array([p.scores[WEAK] for p in split.test])
        scores = router.win_probability(cache.embed([p.prompt for p in split.test], progress=False))
        values.append(pgr_curve(scores, strong, weak).apgr())
    return float(np.mean(values)) if values else float("nan")


def choose_l2(
    prompts: Sequence[ScoredPrompt],
    cache: EmbeddingCache,
    recipe: str = "pair",
    grid: Sequence[float] = L2_GRID,
    progress: bool = True,
) -> tuple[float, dict[float, float]]:
    """The L2 strength with the best validation APGR; the default when there is no MMLU to validate on.

    For ``gated`` this is the L2 of its pair direction, chosen as for ``pair``.
    """
    if recipe not in ("pair", "gated") or not any(p.source == "mmlu" for p in prompts):
        return DEFAULT_L2, {}
    scores = {
        l2: validation_apgr(prompts, cache, "pair", l2)
        for l2 in tqdm(grid, desc="choosing L2 on validation folds", disable=not progress)
    }
    return max(scores, key=lambda l2: scores[l2]), scores
