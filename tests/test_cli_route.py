"""`orchestrouter route` against a router with live (fake) endpoints: plain, --stream, a cut stream (in-process)."""

from __future__ import annotations

import io
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestrouter.cli.main import main
from tests.support.fake_openai import Fault

# The router runs in this process: its decision log would share the captured stdout with the CLI.
QUIET = {"decision_log": "off"}


def route(port: int, *args: str) -> int:
    return main(["route", "--router", f"127.0.0.1:{port}", *args])


def test_route_prints_the_decision_and_the_answer(stack, capsys):
    s = stack(**QUIET)
    assert route(s.router.port, "What is six times seven?") == 0
    first, answer = capsys.readouterr().out.splitlines()[:2]
    assert first.startswith("premium ") and "p=0.900" in first
    assert answer == s.premium.answer_text()


def test_json_prints_one_object_with_the_decision_timings_and_usage(stack, capsys):
    s = stack(**QUIET)
    assert route(s.router.port, "--json", "What is six times seven?") == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["tier"] == "premium" and decision["model"] == "premium-model"
    assert decision["win_probability"] == pytest.approx(0.9) and decision["threshold"] == pytest.approx(0.2)
    assert {"router_id", "router_version", "request_id"} <= decision.keys()
    assert decision["answer"] == s.premium.answer_text()
    assert decision["timings_ms"]["total"] > 0 and decision["usage"]["completion_tokens"] > 0


def test_stream_prints_the_answer_as_it_comes_then_the_decision(stack, capsys):
    s = stack(**QUIET)
    assert route(s.router.port, "--stream", "What is six times seven?") == 0
    streamed, decision = capsys.readouterr().out.splitlines()
    assert streamed == s.premium.answer_text()
    assert decision.startswith("premium ") and "p=0.900" in decision


def test_stream_with_json_prints_one_object_holding_the_whole_answer(stack, capsys):
    s = stack(**QUIET)
    assert route(s.router.port, "--stream", "--json", "What is six times seven?") == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["tier"] == "premium" and decision["answer"] == s.premium.answer_text()
    assert decision["usage"]["completion_tokens"] > 0


class _Watched(io.StringIO):
    """_Watched: a stdout that sets ``seen`` once ``text`` has been written to it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, threading.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        if self.getvalue().startswith(self.text):
            self.seen.set()
        return n


def test_a_cut_stream_is_an_error_not_a_short_answer(stack, monkeypatch, capsys):
    s = stack(**QUIET)
    # The fake holds the reset until the CLI has printed the first words, so the cut is mid-answer.
    s.premium.enqueue(Fault.reset(after_deltas=2, hold=True))
    out = _Watched(s.premium.answer_words()[0])
    monkeypatch.setattr(sys, "stdout", out)
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(route, s.router.port, "--stream", "What is six times seven?")
        assert out.seen.wait(30), out.getvalue()
        s.premium.release_cut()
        assert code.result(60) == 1
    err = capsys.readouterr().err
    assert "UNAVAILABLE" in err and "incomplete" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(timeout, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["route", "--timeout", timeout, "hi"])
    assert exit_.value.code == 2 and "positive number of seconds" in capsys.readouterr().err
