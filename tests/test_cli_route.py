"""`orchestrouter route` against a router with live (fake) endpoints: plain, --stream, a cut stream."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.fake_openai import Fault


def cli(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrouter.cli", "route", "--router", f"127.0.0.1:{port}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_route_prints_the_decision_and_the_answer(stack):
    s = stack()
    out = cli(s.router.port, "What is six times seven?")
    assert out.returncode == 0, out.stderr
    first, answer = out.stdout.splitlines()[:2]
    assert first.startswith("premium ") and "p=0.900" in first
    assert answer == s.premium.answer_text()


def test_stream_prints_the_answer_as_it_comes_then_the_decision(stack):
    s = stack()
    out = cli(s.router.port, "--stream", "What is six times seven?")
    assert out.returncode == 0, out.stderr
    streamed, decision = out.stdout.splitlines()
    assert streamed == s.premium.answer_text()
    assert decision.startswith("premium ") and "p=0.900" in decision


def test_stream_with_json_prints_one_object_holding_the_whole_answer(stack):
    s = stack()
    out = cli(s.router.port, "--stream", "--json", "What is six times seven?")
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    assert decision["tier"] == "premium" and decision["answer"] == s.premium.answer_text()
    assert decision["usage"]["completion_tokens"] > 0


def test_a_cut_stream_is_an_error_not_a_short_answer(stack):
    s = stack()
    # The fake holds the reset until the CLI has printed the first words, so the cut is mid-answer.
    s.premium.enqueue(Fault.reset(after_deltas=2, hold=True))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrouter.cli",
            "route",
            "--router",
            f"127.0.0.1:{s.router.port}",
            "--stream",
            "What is six times seven?",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_word = s.premium.answer_words()[0]
    assert proc.stdout.read(len(first_word)) == first_word
    s.premium.release_cut()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "UNAVAILABLE" in err and "incomplete" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(timeout):
    out = subprocess.run(
        [sys.executable, "-m", "orchestrouter.cli", "route", "--timeout", timeout, "hi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "positive number of seconds" in out.stderr
