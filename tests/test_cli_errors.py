"""The offline CLI commands report bad input in one line with exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def orchestrouter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrouter.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "hi"}\n{"prompt": "Write a quicksort in C"}\n')
    return path


def test_a_premium_share_out_of_range_is_one_clear_line(prompts):
    out = orchestrouter("calibrate", "--premium-share", "3", "--prompts", str(prompts))
    assert out.returncode == 2
    assert "premium share must be in [0, 1]" in out.stderr and "Traceback" not in out.stderr


def test_a_missing_prompts_file_is_one_clear_line(tmp_path):
    out = orchestrouter("score", "--file", str(tmp_path / "absent.jsonl"), "--json")
    assert out.returncode == 2
    assert "absent.jsonl" in out.stderr and "Traceback" not in out.stderr


def test_a_broken_model_file_is_one_clear_line(prompts, tmp_path):
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not onnx")
    out = orchestrouter("score", "--file", str(prompts), "--model", str(model), "--json")
    assert out.returncode == 2
    assert "not an ONNX model" in out.stderr and "Traceback" not in out.stderr


def test_score_prints_one_line_per_prompt(prompts):
    out = orchestrouter("score", "--file", str(prompts), "--json", "--threshold", "0.2")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 2
