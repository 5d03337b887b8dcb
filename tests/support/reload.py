"""Hot reload helpers: put a test model file in service in one step, and wait until a condition holds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.models import linear_model


def put_model(path: Path, version: str, bias: float = 0.0, **fields) -> None:
    """Writes a test model beside path, then renames it over path in one step (a volume update)."""
    tmp = path.with_name(f".{version}.onnx")
    linear_model(tmp, bias=bias, version=version, **fields)
    os.replace(tmp, path)


def wait_until(found: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not found():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
