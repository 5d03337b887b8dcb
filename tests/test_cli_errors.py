"""The offline CLI commands report bad input in one line with exit code 2, never a traceback (in-process)."""

from __future__ import annotations

import json
import sys

import pytest

from orchestrouter.cli.main import main


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "hi"}\n{"prompt": "Write a quicksort in C"}\n')
    return path


def test_a_premium_share_out_of_range_is_one_clear_line(prompts, capsys):
    assert main(["calibrate", "--premium-share", "3", "--prompts", str(prompts)]) == 2
    err = capsys.readouterr().err
    assert "premium share must be in [0, 1]" in err and "Traceback" not in err


def test_a_missing_prompts_file_is_one_clear_line(tmp_path, capsys):
    assert main(["score", "--file", str(tmp_path / "absent.jsonl"), "--json"]) == 2
    err = capsys.readouterr().err
    assert "absent.jsonl" in err and "Traceback" not in err


def test_a_broken_model_file_is_one_clear_line(prompts, tmp_path, capsys):
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not onnx")
    assert main(["score", "--file", str(prompts), "--model", str(model), "--json"]) == 2
    err = capsys.readouterr().err
    assert "not an ONNX model" in err and "Traceback" not in err


def test_score_prints_one_line_per_prompt(prompts, capsys):
    assert main(["score", "--file", str(prompts), "--json", "--threshold", "0.2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["prompt"] for line in lines] == ["hi", "Write a quicksort in C"]


@pytest.mark.parametrize("command", ["train", "eval"])
def test_train_and_eval_need_a_data_dir(command, monkeypatch, capsys):
    monkeypatch.delenv("ORCHESTROUTER_DATA_DIR", raising=False)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data-dir" in err and "ORCHESTROUTER_DATA_DIR" in err


def test_a_data_dir_that_does_not_exist_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "data directory not found" in err and "nowhere" in err and "Traceback" not in err


@pytest.fixture
def uninstall():
    """uninstall(name, *evict): ``import name`` fails as if it were not installed, and the cached modules
    under ``evict`` are dropped so that they import it again; everything is put back after the test."""
    saved = dict(sys.modules)
    prefixes: list[str] = []

    def under(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    def uninstall(name: str, *evict: str) -> None:
        prefixes.extend((name, *evict))
        for module in [m for m in sys.modules if under(m)]:
            del sys.modules[module]
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not importable"

    yield uninstall
    for module in [m for m in sys.modules if m not in saved]:
        del sys.modules[module]
    sys.modules.update(saved)
    # A package re-imported during the test was bound to its parent: bind the original again.
    for module, value in saved.items():
        parent, _, child = module.rpartition(".")
        if under(module) and parent and saved.get(parent) is not None and value is not None:
            setattr(saved[parent], child, value)


@pytest.mark.parametrize(
    "argv,absent,extra",
    [
        (["train", "--data-dir", "."], ("orchestrouter.training",), "train"),
        (["score", "--file", "prompts.jsonl"], ("orchestrouter.training",), "train"),
        (["eval", "--data-dir", "."], ("matplotlib",), "eval"),
        (["train", "--data-dir", "."], ("wordllama",), "train"),
        (["eval", "--data-dir", "."], ("wordllama",), "eval"),
        (["serve-router"], ("openai", "orchestrouter.router"), "router"),
        (["serve-scorer"], ("onnxruntime", "orchestrouter.scorer"), "scorer"),
    ],
)
def test_a_command_whose_extra_is_absent_names_it(argv, absent, extra, uninstall, capsys):
    uninstall(*absent)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: `orchestrouter {argv[0]}` needs the {extra} extra (no module named ")
    assert err.endswith(f"): pip install 'orchestrouter[{extra}]'\n") and err.count("\n") == 1


def test_a_module_missing_inside_an_installed_package_is_a_bug_not_a_missing_extra(uninstall):
    uninstall("orchestrouter.training.scoring", "orchestrouter.training.commands")
    with pytest.raises(ModuleNotFoundError):
        main(["score", "--file", "prompts.jsonl"])
