"""The one-way picture of DESIGN's layers, enforced: import-linter's contracts in pyproject.toml
hold on this tree and break when a forbidden import is added; the router process and the CLI load
only what they need."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.layout import SOURCE_ROOTS

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The editable install resolves `orchestrouter` through a path hook that import-linter cannot
    # walk, so the source folders go on the path, as the Makefile's lint step does.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(tree / r) for r in SOURCE_ROOTS)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# Each forbidden import, and the contract (by a word of its name) that must catch it.
FORBIDDEN = [
    ("scorer/orchestrouter/scorer/engine.py", "from orchestrouter.router import model", "Layers"),
    ("router_service/orchestrouter/router/core.py", "import onnxruntime", "loads no ONNX"),
    ("scorer/orchestrouter/scorer/batcher.py", "import wordllama", "Scorer serving"),
    ("clients/orchestrouter/client/sync.py", "import opentelemetry", "client install"),
]


def test_the_contracts_hold_on_this_tree():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


def test_forbidden_imports_break_the_contracts(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for r in SOURCE_ROOTS:
        shutil.copytree(ROOT / r, tmp_path / r, ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "data"))
    for module, forbidden, _ in FORBIDDEN:
        path = tmp_path / module
        path.write_text(f"{forbidden}\n{path.read_text()}")
    done = lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    broken = done.stdout[done.stdout.index("Broken contracts") :]
    for module, forbidden, contract in FORBIDDEN:
        assert contract in broken, f"{forbidden} in {module} went unnoticed:\n{done.stdout}"
        assert module.split("/", 1)[1].removesuffix(".py").replace("/", ".") in broken, broken


def _modules_loaded_by(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {name.split(".")[0] for name in done.stdout.split()}


def test_the_router_process_loads_no_onnx():
    loaded = _modules_loaded_by("import orchestrouter.router.server")
    assert not loaded & {"onnx", "onnxruntime"}, loaded & {"onnx", "onnxruntime"}
