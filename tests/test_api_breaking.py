"""`make lint-proto` holds the v1 API to its committed baseline image: on a copy of the proto tree,
an incompatible change (a retyped or renumbered field, a removed RPC or field) fails `buf breaking`
naming what broke, and an additive one (a new field, message or RPC) passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.buf import API_BASELINE, run_buf
from tests.support.layout import ROOT

SCORER = "proto/orchestrouter/v1/scorer.proto"
ROUTER = "proto/orchestrouter/v1/router.proto"


def proto_tree(tmp_path: Path) -> Path:
    """buf.yaml, the .proto files and the baseline, copied into tmp_path."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    for source in [*(ROOT / "proto").rglob("*.proto"), ROOT / API_BASELINE]:
        target = tmp_path / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return tmp_path


def edit(tree: Path, path: str, old: str, new: str) -> None:
    """Replaces old (which must be in the file once) by new."""
    text = (tree / path).read_text()
    assert text.count(old) == 1, f"{path} no longer holds {old!r}: update this test's edit"
    (tree / path).write_text(text.replace(old, new))


def breaking(tree: Path) -> tuple[int, str]:
    proc = run_buf("breaking", "--against", API_BASELINE, cwd=tree)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_protos_as_committed_are_compatible_with_the_baseline(tmp_path):
    code, output = breaking(proto_tree(tmp_path))
    assert code == 0, output


INCOMPATIBLE = {
    "retyped field": (
        SCORER,
        "  uint32 rows = 2;",
        "  uint64 rows = 2;",
        ['"rows"', 'changed type from "uint32" to "uint64"'],
    ),
    "renumbered field": (SCORER, "  bytes data = 1;", "  bytes data = 9;", ['field "1" with name "data"', "deleted"]),
    "removed RPC": (
        ROUTER,
        "  rpc GetStatus(GetStatusRequest) returns (GetStatusResponse);",
        "",
        ['RPC "GetStatus"', "deleted"],
    ),
    "removed field": (SCORER, "  string router_id = 2;\n", "  reserved 2;\n", ['"router_id"', "deleted"]),
}


@pytest.mark.parametrize("change", INCOMPATIBLE.values(), ids=INCOMPATIBLE.keys())
def test_an_incompatible_change_fails_naming_what_broke(change, tmp_path):
    path, old, new, named = change
    tree = proto_tree(tmp_path)
    edit(tree, path, old, new)
    code, output = breaking(tree)
    assert code != 0, f"buf breaking accepted the change:\n{output}"
    assert all(word in output for word in named), output
    assert path.removeprefix("proto/") in output, output


def test_an_additive_change_passes(tmp_path):
    tree = proto_tree(tmp_path)
    edit(
        tree,
        SCORER,
        "  uint32 dim = 3;\n}",
        "  uint32 dim = 3;\n  // label names the batch.\n  string label = 4;\n}",
    )
    edit(
        tree,
        SCORER,
        "  rpc GetModelInfo(GetModelInfoRequest) returns (GetModelInfoResponse);",
        "  rpc GetModelInfo(GetModelInfoRequest) returns (GetModelInfoResponse);\n\n"
        "  // Ping answers.\n  rpc Ping(PingRequest) returns (PingResponse);",
    )
    (tree / SCORER).write_text(
        (tree / SCORER).read_text()
        + "\n// PingRequest is empty.\nmessage PingRequest {}\n\n// PingResponse is empty.\nmessage PingResponse {}\n"
    )
    code, output = breaking(tree)
    assert code == 0, output
