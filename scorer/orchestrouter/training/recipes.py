"""Training recipes: battles + embeddings in, a router that scores embeddings and exports to ONNX.

- ``gated`` (the default; see ``gated.py``): ``pair`` plus a task prior for open requests,
  behind a gate that leaves exam-style questions to the pair direction.
- ``pair``: RouteLLM's pairwise logistic loss on the scored pair's own battles
  (ties dropped for the direction), on unit-length embeddings, strongly L2-regularised; then a
  Platt step on *all* the pair's battles, ties counted as "not better", so the output is
  P(premium strictly better) and its bias says how often the premium model is needed at all.
- ``mf``: an N-model MF over every model's battles, ties as a third outcome (ordered logit),
  per-model biases (see ``mf.py``).
- ``routellm``: RouteLLM's recipe as published (the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import onnx

from orchestrouter.scorer import artifact

from . import onnx_graphs
from .battles import A_WINS, B_WINS, Battles
from .logistic import fit_logistic, sigmoid
from .mf import MFConfig, MFModel, train_mf

RECIPES = ("gated", "pair", "mf", "routellm")
DEFAULT_RECIPE = "gated"
DEFAULT_L2 = 100.0


class TrainedRouter(Protocol):
    def win_probability(self, embeddings: np.ndarray) -> np.ndarray: ...

    def to_onnx(self, info: artifact.RouterModelInfo) -> onnx.ModelProto: ...

    def describe(self) -> dict: ...


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class PairRouter:
    """P(strong strictly better | e) = σ(u · e/|e| + bias)."""

    u: np.ndarray
    bias: float
    l2: float

    def win_probability(self, embeddings: np.ndarray) -> np.ndarray:
        return sigmoid(unit_rows(embeddings) @ self.u + self.bias)

    def to_onnx(self, info: artifact.RouterModelInfo) -> onnx.ModelProto:
        return onnx_graphs.build_linear_router(self.u, self.bias, info, normalize_input=True)

    def describe(self) -> dict:
        return {"recipe": "pair", "l2": self.l2}


def _pair_rows(battles: Battles, strong: str, weak: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prompt index, outcome (+1 strong better, -1 weak better, 0 tie) and weight of the pair's battles."""
    if strong not in battles.models or weak not in battles.models:
        raise ValueError(f"no battles between {strong!r} and {weak!r}")
    s, w = battles.models.index(strong), battles.models.index(weak)
    forward = (battles.model_a == s) & (battles.model_b == w)
    backward = (battles.model_a == w) & (battles.model_b == s)
    sign = np.where(battles.outcome == A_WINS, 1, np.where(battles.outcome == B_WINS, -1, 0))
    rows = forward | backward
    return battles.prompt[rows], np.where(forward[rows], sign[rows], -sign[rows]), battles.weight[rows]


def train_pair(battles: Battles, embeddings: np.ndarray, strong: str, weak: str, l2: float = DEFAULT_L2) -> PairRouter:
    """Each battle counts with its weight (1 unless the battles say otherwise) in both steps."""
    prompt, result, weight = _pair_rows(battles, strong, weak)
    x = unit_rows(embeddings)[prompt]
    decisive = result != 0
    if decisive.sum() < 2 or len(set(result[decisive])) < 2:
        raise ValueError("the pair needs battles won by each side to learn a direction")
    u, _ = fit_logistic(x[decisive], (result[decisive] > 0).astype(float), weight=weight[decisive], l2=l2)
    slope, intercept = fit_logistic((x @ u)[:, None], (result > 0).astype(float), weight=weight, l2=1e-6)
    return PairRouter(u=u * slope[0], bias=intercept, l2=l2)


@dataclass
class MFRouter:
    """An MF model scoring one pair; ``tie_group`` picks the tie width that makes it 'strictly better'."""

    model: MFModel
    strong: str
    weak: str
    tie_group: str | None
    config: MFConfig

    def win_probability(self, embeddings: np.ndarray) -> np.ndarray:
        return self.model.win_probability(embeddings, self.strong, self.weak, self.tie_group)

    def to_onnx(self, info: artifact.RouterModelInfo) -> onnx.ModelProto:
        m = self.model
        theta = m.theta.get(self.tie_group, 0.0) if self.tie_group else 0.0
        return onnx_graphs.build_mf_router(
            m.P,
            m.W,
            m.c,
            m.models.index(self.strong),
            m.models.index(self.weak),
            info,
            model_bias=m.bias,
            normalize_input=m.normalize_input,
            logit_offset=-theta,
        )

    def describe(self) -> dict:
        return {
            "recipe": "mf" if self.config.keep_ties else "routellm",
            "config": self.config.to_dict(),
            "tie_width": self.model.theta.get(self.tie_group, 0.0) if self.tie_group else 0.0,
        }


def train_recipe(
    recipe: str,
    battles: Battles,
    embeddings: np.ndarray,
    strong: str,
    weak: str,
    l2: float = DEFAULT_L2,
    tie_group: str | None = "mmlu",
    progress: bool = True,
) -> TrainedRouter:
    if recipe == "pair":
        return train_pair(battles, embeddings, strong, weak, l2)
    if recipe == "mf":
        config = MFConfig()
    elif recipe == "routellm":
        config, tie_group = MFConfig.routellm(), None
    else:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    model = train_mf(battles, embeddings, config, progress=progress)
    return MFRouter(model, strong, weak, tie_group if tie_group in model.theta else None, config)
