"""Small stand-ins tests share: a clock moved by hand, and a file replaced as a Secret update does."""

from __future__ import annotations

import os
from pathlib import Path


class ManualClock:
    """ManualClock: a monotonic clock the test moves by hand (``clock.now += 5``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def replace_file(path: Path, text: str) -> None:
    """Replaces the file in one step, as a Kubernetes Secret update does: a new file (a new inode)
    renamed over the old one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
