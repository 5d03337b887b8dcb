"""Calibration: a router model's win-probability quantiles, and the premium share they imply."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """Calibration: win-probability quantiles over a reference prompt set.

    ``quantiles[i]`` is the win probability at quantile ``i / (len - 1)`` of the reference set,
    so the threshold that sends a share ``s`` of that traffic to the premium tier is the
    quantile at ``1 - s``. A router model carries the table in its metadata and the scorer
    serves it in GetModelInfo; this is the one place that reads meaning into it.
    """

    reference: str
    quantiles: tuple[float, ...]

    def threshold_for_share(self, premium_share: float) -> float:
        if not 0.0 <= premium_share <= 1.0:
            raise ValueError(f"premium share must be in [0, 1], got {premium_share}")
        if not self.quantiles:
            raise ValueError("the router model carries no calibration table")
        # The ends mean "never" and "always", whatever the reference set's extremes were.
        if premium_share == 0.0:
            return 1.0
        if premium_share == 1.0:
            return 0.0
        grid = np.linspace(0.0, 1.0, len(self.quantiles))
        return float(np.interp(1.0 - premium_share, grid, self.quantiles))

    def share_for_threshold(self, threshold: float) -> float:
        if not self.quantiles:
            raise ValueError("the router model carries no calibration table")
        grid = np.linspace(0.0, 1.0, len(self.quantiles))
        q = np.asarray(self.quantiles)
        return float(1.0 - np.interp(threshold, q, grid, left=0.0, right=1.0))

    @classmethod
    def from_scores(cls, scores: np.ndarray, reference: str, points: int = 101) -> Calibration:
        qs = np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0.0, 1.0, points))
        return cls(reference=reference, quantiles=tuple(round(float(x), 6) for x in qs))
