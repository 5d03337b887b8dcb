"""Calibration: from win probabilities on a prompt set to the threshold for a premium share.

The artifact carries a quantile table from a reference set (``reference_prompts``), so that a
router can turn "send about 20% to the premium model" into a threshold without seeing traffic;
``calibrate`` computes the same from a sample of the operator's own traffic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from orchestrouter.router.calibration import Calibration
from orchestrouter.scorer.artifact import RouterModelInfo

from .datasets import ScoredPrompt

DEFAULT_PREMIUM_SHARE = 0.22
REFERENCE_NAME = "arena-bench-v1 chat prompts (300) + anchor prompts (180) + LLMRouter test queries (200)"


def reference_prompts(data: Sequence[ScoredPrompt]) -> list[str]:
    """The stand-in for everyday traffic in the default table: real chat prompts, the hand-written
    everyday-style anchor prompts, and a smaller spread of benchmark task queries."""
    from .gated import load_anchors

    if not data:
        return []
    arena = [p.prompt for p in data if p.source == "arena"]
    tasks = [p.prompt for p in data if p.source == "llmrouter"][-200:]
    return arena + [a["prompt"] for a in load_anchors()] + tasks


def artifact_calibration(info: RouterModelInfo) -> Calibration | None:
    """The calibration table a router model carries, or None."""
    if not info.calibration_quantiles:
        return None
    return Calibration(info.calibration_reference, info.calibration_quantiles)


def threshold_for_share(scores: np.ndarray, premium_share: float) -> float:
    """The threshold that sends ``premium_share`` of these scores (those >= it) to the premium tier."""
    return Calibration.from_scores(np.asarray(scores), "sample", points=1001).threshold_for_share(premium_share)


def share_at(scores: np.ndarray, threshold: float) -> float:
    return float(np.mean(np.asarray(scores) >= threshold)) if len(scores) else 0.0
