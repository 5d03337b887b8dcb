"""Where the project's packages live, read from pyproject.toml (the one place that says)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The top-level folders whose orchestrouter/ parts make up the namespace package.
SOURCE_ROOTS: tuple[str, ...] = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
)
