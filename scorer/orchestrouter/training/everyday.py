"""The everyday-traffic report: per category of our own query set, the mean win probability and the
premium share at raw thresholds, at the artifact's calibrated threshold, and at the default operating
point calibrated on this traffic itself (what `orchestrouter calibrate` does with a traffic sample)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .calibration import DEFAULT_PREMIUM_SHARE, share_at, threshold_for_share
from .datasets import read_jsonl

EVERYDAY_QUERIES = Path(__file__).parent / "data" / "everyday_queries.jsonl"
RAW_THRESHOLDS = (0.1, 0.2, 0.3)


def load_queries(path: Path = EVERYDAY_QUERIES) -> list[dict]:
    return read_jsonl(path)


def category_report(categories: Sequence[str], scores: np.ndarray, table_threshold: float) -> dict:
    """``table_threshold``: the artifact's calibrated threshold for the default premium share.

    The default operating point is the threshold that sends DEFAULT_PREMIUM_SHARE of *these*
    queries to premium, as an operator calibrating on their traffic would set it.
    """
    cats = np.asarray(categories)
    scores = np.asarray(scores, dtype=np.float64)
    default_threshold = threshold_for_share(scores, DEFAULT_PREMIUM_SHARE)
    points = {**{str(t): t for t in RAW_THRESHOLDS}, "table": table_threshold, "default": default_threshold}

    def shares(s: np.ndarray) -> dict:
        return {f"premium_share@{name}": round(share_at(s, t), 3) for name, t in points.items()}

    rows = {
        cat: {
            "n": int((cats == cat).sum()),
            "mean_win_probability": round(float(scores[cats == cat].mean()), 4),
            **shares(scores[cats == cat]),
        }
        for cat in dict.fromkeys(categories)
    }
    return {
        "table_threshold": round(float(table_threshold), 4),
        "default_threshold": round(default_threshold, 4),
        "default_premium_share_target": DEFAULT_PREMIUM_SHARE,
        "categories": rows,
        "overall": shares(scores),
    }


def format_report(report: dict) -> str:
    columns = [str(t) for t in RAW_THRESHOLDS] + ["table", "default"]
    head = f"{'category':<28}{'n':>4}{'mean P':>8}" + "".join(f"{'@' + c:>9}" for c in columns)
    share = report["default_premium_share_target"]
    lines = [
        f"@table: the artifact's threshold for {share:.0%} premium on its reference set, "
        f"{report['table_threshold']:.4f}",
        f"@default: the threshold for {share:.0%} premium on these queries (the default operating point), "
        f"{report['default_threshold']:.4f}",
        head,
    ]
    for cat, r in report["categories"].items():
        lines.append(
            f"{cat:<28}{r['n']:>4}{r['mean_win_probability']:>8.3f}"
            + "".join(f"{r[f'premium_share@{c}']:>9.2f}" for c in columns)
        )
    o = report["overall"]
    lines.append(f"{'overall':<28}{'':>12}" + "".join(f"{o[f'premium_share@{c}']:>9.2f}" for c in columns))
    return "\n".join(lines)
