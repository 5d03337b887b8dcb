"""The committed stubs in clients/stubs are exactly what `make proto` generates from proto/."""

from __future__ import annotations

import filecmp
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
STUBS = "clients/stubs"


def test_committed_stubs_are_current(tmp_path, monkeypatch):
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
    assert protos, "no .proto files found"
    monkeypatch.chdir(ROOT)
    # The same invocation as the Makefile's `proto` target, into a scratch folder.
    args = ["protoc", f"-I{STUBS}=proto", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}", *protos]
    assert protoc.main(args) == 0
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT) for p in (ROOT / STUBS).rglob("*")
                       if p.is_file() and p.suffix in (".py", ".pyi") and p.name != "__init__.py")
    assert generated == committed, "run `make proto`: the set of generated files differs"
    stale = [str(p) for p in generated if not filecmp.cmp(tmp_path / p, ROOT / p, shallow=False)]
    assert not stale, f"run `make proto`: stale generated code in {stale}"
