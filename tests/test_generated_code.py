"""The committed generated code beside the protos is exactly what `make proto` produces."""

from __future__ import annotations

import filecmp
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "proto"


def _generated(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*_pb2*") if p.suffix in (".py", ".pyi"))


def test_committed_generated_code_is_current(tmp_path, monkeypatch):
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    assert protos, "no .proto files found"
    monkeypatch.chdir(PROTO_ROOT)
    # The same invocation as the Makefile's `proto` target, into a scratch folder.
    args = [
        "protoc",
        "-I.",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        *protos,
    ]
    assert protoc.main(args) == 0
    generated, committed = _generated(tmp_path), _generated(PROTO_ROOT)
    assert generated == committed, "run `make proto`: the set of generated files differs"
    stale = [str(p) for p in generated if not filecmp.cmp(tmp_path / p, PROTO_ROOT / p, shallow=False)]
    assert not stale, f"run `make proto`: stale generated code in {stale}"


def test_descriptors_are_named_from_the_proto_root():
    from orchestrouter.v1 import router_pb2, scorer_pb2

    assert router_pb2.DESCRIPTOR.name == "orchestrouter/v1/router.proto"
    assert scorer_pb2.DESCRIPTOR.name == "orchestrouter/v1/scorer.proto"
