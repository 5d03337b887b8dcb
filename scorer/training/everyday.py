"""The everyday-traffic report: per category of our own query set, the mean win probability and the
premium share at raw thresholds and at the default operating point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .calibration import DEFAULT_PREMIUM_SHARE, share_at

EVERYDAY_QUERIES = Path(__file__).parent / "data" / "everyday_queries.jsonl"
RAW_THRESHOLDS = (0.1, 0.2, 0.3)


def load_queries(path: Path = EVERYDAY_QUERIES) -> list[dict]:
    with Path(path).open() as f:
        return [json.loads(line) for line in f if line.strip()]


def category_report(categories: Sequence[str], scores: np.ndarray, operating_threshold: float) -> dict:
    """``operating_threshold``: the artifact's calibrated threshold for the default premium share."""
    cats = np.asarray(categories)
    scores = np.asarray(scores, dtype=np.float64)
    rows = {}
    for cat in dict.fromkeys(categories):
        s = scores[cats == cat]
        rows[cat] = {"n": int(s.size), "mean_win_probability": round(float(s.mean()), 4),
                     **{f"premium_share@{t}": round(share_at(s, t), 3) for t in RAW_THRESHOLDS},
                     "premium_share@default": round(share_at(s, operating_threshold), 3)}
    overall = {f"premium_share@{t}": round(share_at(scores, t), 3) for t in RAW_THRESHOLDS}
    overall["premium_share@default"] = round(share_at(scores, operating_threshold), 3)
    return {"default_threshold": round(float(operating_threshold), 4),
            "default_premium_share_target": DEFAULT_PREMIUM_SHARE, "categories": rows, "overall": overall}


def format_report(report: dict) -> str:
    head = (f"{'category':<28}{'n':>4}{'mean P':>8}" + "".join(f"{'@' + str(t):>7}" for t in RAW_THRESHOLDS)
            + f"{'@default':>10}")
    lines = [f"default operating point: threshold {report['default_threshold']:.4f} "
             f"(calibrated for {report['default_premium_share_target']:.0%} premium)", head]
    for cat, r in report["categories"].items():
        lines.append(f"{cat:<28}{r['n']:>4}{r['mean_win_probability']:>8.3f}"
                     + "".join(f"{r[f'premium_share@{t}']:>7.2f}" for t in RAW_THRESHOLDS)
                     + f"{r['premium_share@default']:>10.2f}")
    o = report["overall"]
    lines.append(f"{'overall':<28}{'':>12}" + "".join(f"{o[f'premium_share@{t}']:>7.2f}" for t in RAW_THRESHOLDS)
                 + f"{o['premium_share@default']:>10.2f}")
    return "\n".join(lines)
