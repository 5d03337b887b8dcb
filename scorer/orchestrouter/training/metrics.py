"""RouteLLM's routing metrics: the PGR curve, APGR, CPT(x%), and a random router's APGR.

A router scores each prompt; routing the top k prompts by score to the strong model gives a
quality, the mean over all prompts of the routed model's score (correctness or judge score).
PGR(k) = (quality(k) - weak-only) / (strong-only - weak-only), plotted against k / n.
APGR is the area under that curve (trapezoid over every k); CPT(x) the smallest strong-call
fraction whose PGR reaches x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PgrCurve:
    """PgrCurve: PGR at strong-call fractions 0, 1/n, ..., 1."""

    strong_share: np.ndarray
    pgr: np.ndarray

    def apgr(self) -> float:
        return float(np.trapezoid(self.pgr, self.strong_share))

    def cpt(self, target: float) -> float:
        """The smallest strong-call share whose PGR reaches ``target`` (0.5 for CPT(50%))."""
        reached = np.nonzero(self.pgr >= target - 1e-12)[0]
        return float(self.strong_share[reached[0]]) if reached.size else 1.0


def pgr_curve(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> PgrCurve:
    """The PGR curve of a router that sends the highest ``scores`` to the strong model first.

    ``strong`` and ``weak`` are each model's quality on every prompt. Equal router scores are
    broken by prompt order (scores are continuous in practice).
    """
    scores, strong, weak = (np.asarray(a, dtype=np.float64) for a in (scores, strong, weak))
    if not (scores.shape == strong.shape == weak.shape) or scores.ndim != 1 or scores.size == 0:
        raise ValueError("scores, strong and weak must be equal-length, non-empty 1-d arrays")
    order = np.argsort(-scores, kind="stable")
    gain = np.concatenate([[0.0], np.cumsum(strong[order] - weak[order])])
    n = scores.size
    quality = (weak.sum() + gain) / n
    gap = strong.mean() - weak.mean()
    if abs(gap) < 1e-12:
        raise ValueError("strong and weak models have the same mean quality: PGR is undefined")
    return PgrCurve(np.arange(n + 1) / n, (quality - weak.mean()) / gap)


def summarise(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> dict[str, float]:
    curve = pgr_curve(scores, strong, weak)
    return {"apgr": curve.apgr(), "cpt50": curve.cpt(0.5), "cpt80": curve.cpt(0.8), "n": int(len(scores))}


def random_router_apgr(strong: np.ndarray, weak: np.ndarray, trials: int = 200, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of APGR over ``trials`` random orderings."""
    rng = np.random.default_rng(seed)
    values = [pgr_curve(rng.random(len(strong)), strong, weak).apgr() for _ in range(trials)]
    return float(np.mean(values)), float(np.std(values))
