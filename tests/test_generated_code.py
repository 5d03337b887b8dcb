"""The committed generated code is exactly what `make proto` (Python, beside the protos) and
`make clients` (the other languages, from buf.gen.yaml) produce."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest
import yaml
from grpc_tools import protoc

from tests.support.buf import run_buf

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


def _buf_plugins() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "buf.gen.yaml").read_text())["plugins"]


@pytest.mark.parametrize("plugin", _buf_plugins(), ids=lambda plugin: plugin["out"])
def test_committed_client_code_is_what_buf_generate_writes(plugin, tmp_path):
    """Each buf.gen.yaml plugin (as `make clients` runs it), into a scratch folder: byte for byte
    the committed code."""
    template = yaml.safe_load((ROOT / "buf.gen.yaml").read_text())
    entry = {**plugin, "out": str(tmp_path / plugin["out"])}
    local = plugin.get("local")
    if isinstance(local, str) and "/" in local:  # a plugin inside the repository, e.g. in node_modules
        assert (ROOT / local).exists(), f"{local} is missing: run `make clients`"
        entry["local"] = str(ROOT / local)
    template["plugins"] = [entry]
    (tmp_path / "buf.gen.yaml").write_text(yaml.safe_dump(template))
    proc = run_buf("generate", "--template", str(tmp_path / "buf.gen.yaml"))
    assert proc.returncode == 0, proc.stderr
    generated, committed = tmp_path / plugin["out"], ROOT / plugin["out"]
    files = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    assert files, f"{plugin['out']}: buf generate wrote nothing"
    assert files == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file()), (
        f"run `make clients`: the set of files in {plugin['out']} differs"
    )
    stale = [str(p) for p in files if (generated / p).read_bytes() != (committed / p).read_bytes()]
    assert not stale, f"run `make clients`: stale generated code in {plugin['out']}: {stale}"
