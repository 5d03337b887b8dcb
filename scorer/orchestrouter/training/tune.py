"""``orchestrouter tune``: the threshold for an operating point, from the deployment's own recent traffic.

The router stored each answered request's win probability. The threshold that sends a share S of
those requests to the premium tier is their (1 - S) quantile; a cost ceiling per 1,000 requests
becomes the largest share whose expected cost stays under it, with each tier's mean stored cost per
answered request (served and shadow answers alike). The expected quality is the PGR, on the judged
pairs of the same period, of routing by their stored win probabilities at that threshold.

``--write FILE`` sets ORCHESTROUTER_THRESHOLD in a router env file (a Kubernetes ConfigMap's
``router.env``) and empties ORCHESTROUTER_PREMIUM_SHARE there, which would otherwise take precedence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrouter.store import Store

from .calibration import share_at, threshold_for_share
from .store_labels import StoreLabel, label_pairs

THRESHOLD_VAR = "ORCHESTROUTER_THRESHOLD"
SHARE_VAR = "ORCHESTROUTER_PREMIUM_SHARE"
# A proposal whose share on the stored traffic misses the target by more than this says so.
MISSED_SHARE = 0.05


@dataclass(frozen=True)
class TuneResult:
    """TuneResult: the proposed threshold and what it is expected to do on the period's traffic."""

    requests: int
    threshold: float
    premium_share: float
    cost_per_1k: float | None
    judged_pairs: int
    pgr: float | None
    target: str
    wanted_share: float

    def report(self) -> str:
        cost = "unknown (no stored costs)" if self.cost_per_1k is None else f"${self.cost_per_1k:.4f}"
        pgr = "unknown (no judged pairs with a quality gap)" if self.pgr is None else f"{self.pgr:.3f}"
        line = (
            f"{THRESHOLD_VAR}={self.threshold:.6f} for {self.target}, from {self.requests} stored requests: "
            f"premium share {self.premium_share:.1%}, cost per 1k requests {cost}, "
            f"expected quality (PGR on {self.judged_pairs} judged pairs) {pgr}"
        )
        if abs(self.premium_share - self.wanted_share) > MISSED_SHARE:
            line += f" (the stored win probabilities are too few or too tied to reach {self.wanted_share:.1%})"
        return line


def _traffic(store: Store, since: float) -> tuple[np.ndarray, dict[str, float]]:
    """The stored win probabilities since ``since``, and each tier's mean cost per answer without error."""
    scores: list[float] = []
    costs: dict[str, list[float]] = {"small": [], "premium": []}
    for request in store.requests(since=since):
        scores.append(request.win_probability)
        for answer in request.answers:
            if not answer.error and answer.tier in costs:
                costs[answer.tier].append(answer.cost_usd)
    return np.array(scores, dtype=np.float64), {tier: float(np.mean(v)) for tier, v in costs.items() if v}


def share_for_cost(max_cost_per_1k: float, costs: dict[str, float]) -> float:
    """The largest premium share whose expected cost per 1,000 requests is at most ``max_cost_per_1k``."""
    if "small" not in costs or "premium" not in costs:
        raise ValueError("the store holds no costs of both tiers yet: tune with --premium-share instead")
    small, premium = costs["small"], costs["premium"]
    per_request = max_cost_per_1k / 1000.0
    if premium <= small:
        return 1.0
    return float(np.clip((per_request - small) / (premium - small), 0.0, 1.0))


def tune(
    store: Store, *, premium_share: float | None = None, max_cost_per_1k: float | None = None, since_days: float = 7
) -> TuneResult:
    if (premium_share is None) == (max_cost_per_1k is None):
        raise ValueError("give exactly one of --premium-share and --max-cost-per-1k")
    if premium_share is not None and not 0.0 <= premium_share <= 1.0:
        raise ValueError(f"--premium-share must be in [0, 1], got {premium_share}")
    if max_cost_per_1k is not None and max_cost_per_1k < 0:
        raise ValueError(f"--max-cost-per-1k must be >= 0, got {max_cost_per_1k}")
    if since_days <= 0:
        raise ValueError(f"--since-days must be > 0, got {since_days}")
    since = time.time() - since_days * 86400
    scores, costs = _traffic(store, since)
    if scores.size == 0:
        raise ValueError(f"the store holds no requests from the last {since_days:g} days")
    if max_cost_per_1k is not None:
        premium_share, target = share_for_cost(max_cost_per_1k, costs), f"at most ${max_cost_per_1k:g} per 1k requests"
    else:
        target = f"a {premium_share:.0%} premium share"
    assert premium_share is not None
    threshold = threshold_for_share(scores, premium_share)
    share = share_at(scores, threshold)
    cost = 1000 * (share * costs["premium"] + (1 - share) * costs["small"]) if len(costs) == 2 else None
    judged = list(store.pairs(since=since, judged_only=True))
    labels = [(x, p.request.win_probability) for p in judged for x in label_pairs([p])]
    pgr = _pgr_at(labels, threshold)
    return TuneResult(scores.size, threshold, share, cost, len(labels), pgr, target, premium_share)


def _pgr_at(labels: list[tuple[StoreLabel, float]], threshold: float) -> float | None:
    """PGR of routing the judged pairs by their stored win probabilities at ``threshold``."""
    if not labels:
        return None
    strong = np.array([x.premium for x, _ in labels])
    weak = np.array([x.small for x, _ in labels])
    routed = np.where(np.array([p for _, p in labels]) >= threshold, strong, weak)
    gap = strong.mean() - weak.mean()
    return None if abs(gap) < 1e-12 else float((routed.mean() - weak.mean()) / gap)


def write_env(path: Path, result: TuneResult) -> None:
    """Sets the threshold in an env file (keeping its other lines) and empties the premium share there."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [ln for ln in lines if ln.split("=", 1)[0].strip() not in (THRESHOLD_VAR, SHARE_VAR)]
    kept = [ln for ln in kept if not ln.startswith("# orchestrouter tune:")]
    kept += [
        f"# orchestrouter tune: {result.target} on {result.requests} stored requests "
        f"({time.strftime('%Y-%m-%d', time.gmtime())}); the empty premium share overrides the base's.",
        f"{THRESHOLD_VAR}={result.threshold:.6f}",
        f"{SHARE_VAR}=",
    ]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(kept) + "\n")
    tmp.replace(path)
