"""Trains a router on the data at hand (and/or a battles file) and writes the self-describing artifact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrouter.router.calibration import Calibration
from orchestrouter.scorer import artifact

from . import onnx_graphs
from .battles import BattleBuilder, read_battles_jsonl
from .calibration import REFERENCE_NAME, reference_prompts
from .datasets import STRONG, WEAK, ScoredPrompt
from .embedding_cache import EmbeddingCache
from .gated import train_gated
from .pipeline import build_battles, choose_l2
from .recipes import DEFAULT_L2, DEFAULT_RECIPE, TrainedRouter, train_recipe

ROUTER_ID = "orchestrouter-mf-wordllama"
VERSION = "2026.11.29.2"


@dataclass(frozen=True)
class TrainRequest:
    """TrainRequest: what ``orchestrouter train`` was asked to do."""

    out: Path
    recipe: str = DEFAULT_RECIPE
    battles_file: Path | None = None
    strong: str = STRONG
    weak: str = WEAK
    l2: float | None = None
    router_id: str = ROUTER_ID
    version: str = VERSION


def train_artifact(
    request: TrainRequest, data: Sequence[ScoredPrompt], cache: EmbeddingCache
) -> artifact.RouterModelInfo:
    builder = BattleBuilder([request.strong, request.weak])
    user_battles = read_battles_jsonl(request.battles_file, builder) if request.battles_file else 0
    battles = build_battles(data, request.recipe, builder)
    if len(battles) == 0:
        raise ValueError("no training battles: give --battles FILE or a data directory")
    l2, validation = (request.l2, {}) if request.l2 is not None else choose_l2(data, cache, request.recipe)
    l2 = l2 if l2 is not None else DEFAULT_L2
    weight_validation: dict[float, float] = {}
    router: TrainedRouter
    if request.recipe == "gated":
        if user_battles or (request.strong, request.weak) != (STRONG, WEAK):
            raise ValueError(
                "the gated recipe learns from the data sets' GPT-4/Mixtral pair; "
                "train your own battles or pair with --recipe pair"
            )
        router, weight_validation = train_gated(data, cache, l2)
    else:
        router = train_recipe(
            request.recipe, battles, cache.embed(battles.prompts), request.strong, request.weak, l2=l2
        )
    reference = reference_prompts(data) or battles.prompts[:1000]
    calibration = Calibration.from_scores(
        router.win_probability(cache.embed(reference, progress=False)),
        REFERENCE_NAME if data else "training prompts (first 1000)",
    )
    sources = sorted({p.source for p in data})
    info = artifact.RouterModelInfo(
        router_id=request.router_id,
        version=request.version,
        embedder_name=cache.embedder.name,
        embedder_dim=cache.embedder.dim,
        model_names=tuple(battles.models),
        strong_model=request.strong,
        weak_model=request.weak,
        calibration_reference=calibration.reference,
        calibration_quantiles=calibration.quantiles,
        training_data={
            "sets": sources,
            "battles_file": str(request.battles_file or ""),
            "user_battles": user_battles,
            "battle_counts": battles.counts(),
            "validation_apgr_by_l2": {str(k): round(v, 4) for k, v in validation.items()},
            "validation_apgr_by_task_weight": {str(k): round(v, 4) for k, v in weight_validation.items()},
            "output": "P(strong answer strictly better than weak)",
            **router.describe(),
        },
    )
    onnx_graphs.save(router.to_onnx(info), request.out)
    return artifact.read_info(request.out)
