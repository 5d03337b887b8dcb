"""buf as the Makefile runs it: through npx at the Makefile's BUF_VERSION (the one place that
says), for the tests of the generated clients and of the API baseline."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.layout import ROOT


def makefile_variable(name: str) -> str:
    """The value of a `NAME := value` line of the Makefile."""
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, f"the Makefile sets no {name}"
    return match.group(1).strip()


BUF_VERSION = makefile_variable("BUF_VERSION")
API_BASELINE = makefile_variable("API_BASELINE")


def run_buf(*args: str, cwd: Path = ROOT, timeout_s: float = 180.0) -> subprocess.CompletedProcess[str]:
    """`buf ARGS` in cwd, its output captured; the caller checks the exit code."""
    return subprocess.run(
        ["npx", "--yes", f"@bufbuild/buf@{BUF_VERSION}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
