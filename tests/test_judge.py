"""`orchestrouter judge`: MT-Bench's pair-v2 template both ways, resumable after a kill, retries, one-line errors."""

from __future__ import annotations

import collections
import signal
import socket
import subprocess
import sys
import time

import pytest

from orchestrouter.store import open_store
from orchestrouter.tools.loop_fakes import HARD_TOPIC, judge_reply, question_of, traffic
from orchestrouter.training.judge_template import SYSTEM_PROMPT, judge_messages, parse_verdict, winner
from tests.support.fake_openai import OK, Fault
from tests.support.store_pairs import record_world

JUDGE = "judge-model"


def judge_command(store_url: str, base_url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "orchestrouter.cli",
        "judge",
        "--store",
        store_url,
        "--judge-base-url",
        base_url,
        "--judge-model",
        JUDGE,
        "--no-progress",
        *extra,
    ]


def run_judge(store_url: str, base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(judge_command(store_url, base_url, *extra), capture_output=True, text=True, timeout=180)


@pytest.fixture
def world(store_url):
    """A store (SQLite, then PostgreSQL) holding 24 shadowed pairs of the simulated world; (url, the prompts)."""
    url = store_url
    prompts = traffic()[:24]
    store = open_store(url)
    record_world(store, prompts)
    store.close()
    return url, prompts


def test_the_template_is_pair_v2_and_disagreement_is_a_tie():
    system, user = judge_messages("What is 2+2?", "four", "five")
    assert system == {"role": "system", "content": SYSTEM_PROMPT} and "[[C]]" in SYSTEM_PROMPT
    assert user["content"] == (
        "[User Question]\nWhat is 2+2?\n\n"
        "[The Start of Assistant A's Answer]\nfour\n[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\nfive\n[The End of Assistant B's Answer]"
    )
    assert [parse_verdict(t) for t in ("so [[A]]", "[[C]]", "no verdict", "[[A]] or [[B]]")] == ["A", "C", None, None]
    # (small as A, premium as A): agreeing verdicts name a winner; a judge that always picks A ties.
    assert winner("B", "A") == "premium" and winner("A", "B") == "small"
    assert winner("A", "A") == "tie" and winner("C", "C") == "tie" and winner("B", "C") == "tie"


def test_killed_halfway_then_rerun_judges_every_pair_exactly_once(fakes, world):
    url, prompts = world
    answered_before_hang = 20
    judge = fakes("judge", reply=judge_reply, schedule=lambda i: OK if i < answered_before_hang else Fault.hang())
    first = subprocess.Popen(
        judge_command(url, judge.base_url, "--concurrency", "2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    store = open_store(url)
    try:
        judge.wait_for_requests(answered_before_hang + 1, timeout_s=120)
        answered = collections.Counter(question_of(r.body) for r in judge.requests if not r.fault.injected)
        complete = sum(1 for n in answered.values() if n == 2)
        assert complete >= 5
        deadline = time.monotonic() + 60
        while len(list(store.pairs(judged_only=True))) < complete and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(store.pairs(judged_only=True))) == complete
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    judge.always(None)

    rerun = run_judge(url, judge.base_url, "--concurrency", "3")

    assert rerun.returncode == 0, rerun.stderr
    assert f"judged {len(prompts) - complete} pairs with {JUDGE}" in rerun.stdout
    answered = collections.Counter(question_of(r.body) for r in judge.requests if not r.fault.injected)
    assert answered == {p.text: 2 for p in prompts}
    pairs = list(store.pairs(judged_only=True))
    store.close()
    assert len(pairs) == len(prompts) and all(len(p.judgments) == 1 for p in pairs)
    hard = {p.text for p in prompts if p.topic == HARD_TOPIC}
    assert hard and {p.request.query: p.judgments[0].winner for p in pairs} == {
        p.text: "premium" if p.text in hard else "tie" for p in prompts
    }


def test_a_second_run_finds_nothing_to_judge_and_prices_the_tokens(fakes, world):
    url, prompts = world
    judge = fakes("judge", reply=judge_reply)
    done = run_judge(url, judge.base_url, "--judge-price-in", "1000000", "--judge-price-out", "0")
    again = run_judge(url, judge.base_url)
    assert done.returncode == 0 and again.returncode == 0, done.stderr + again.stderr
    prompt_tokens = sum(
        sum(len(str(m["content"]).split()) for m in r.body["messages"]) for r in judge.requests[: 2 * len(prompts)]
    )
    assert f"judge cost ${prompt_tokens:.4f}" in done.stdout
    assert f"judged 0 pairs with {JUDGE}" in again.stdout and judge.calls == 2 * len(prompts)


def test_429_and_503_are_retried(fakes, world):
    url, prompts = world
    judge = fakes("judge", reply=judge_reply)
    judge.enqueue(Fault.status_code(503), Fault.status_code(429, retry_after="0"), Fault.status_code(502))
    done = run_judge(url, judge.base_url, "--limit", "4", "--concurrency", "1")
    assert done.returncode == 0, done.stderr
    assert "judged 4 pairs" in done.stdout and judge.calls == 4 * 2 + 3


def test_a_refused_key_is_one_line_without_the_key(fakes, world, tmp_path):
    url, _ = world
    judge = fakes("judge", reply=judge_reply, accepted_keys=("the-right-key",))
    key_file = tmp_path / "key"
    key_file.write_text("sk-wrong-secret\n")
    done = run_judge(url, judge.base_url, "--judge-api-key-file", str(key_file))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "refused the API key (HTTP 401)" in done.stderr
    assert "sk-wrong-secret" not in done.stderr + done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize("base_url", ["ftp://judge.example/v1", "not a url"])
def test_a_bad_url_is_one_line(world, base_url):
    url, _ = world
    done = run_judge(url, base_url)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--judge-base-url" in done.stderr


def test_an_unreachable_judge_is_one_line(world):
    url, _ = world
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run_judge(url, f"http://127.0.0.1:{port}/v1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot reach the judge" in done.stderr


def test_a_bad_store_url_is_one_line(fakes):
    judge = fakes("judge", reply=judge_reply)
    done = run_judge("mysql://somewhere/db", judge.base_url)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_pair_the_judge_refuses_is_left_for_the_next_run_without_retries(fakes, world):
    url, prompts = world
    judge = fakes("judge", reply=judge_reply)
    judge.enqueue(Fault.status_code(400))
    done = run_judge(url, judge.base_url, "--limit", "3", "--concurrency", "1")
    assert done.returncode == 1, done.stderr  # a failed pair: the run says so in its exit status
    assert "judged 3 pairs" in done.stdout and "1 failed" in done.stdout and "HTTP 400: injected 400" in done.stderr
    # The refused pair's other order was asked once; nothing was retried.
    assert judge.calls == 2 + 3 * 2
    again = run_judge(url, judge.base_url)
    assert f"judged {len(prompts) - 3} pairs" in again.stdout


def test_a_reply_without_a_verdict_leaves_the_pair_for_the_next_run(fakes, world):
    url, prompts = world
    calls = collections.Counter[str]()

    def vague_first(body: dict) -> str:
        calls["n"] += 1
        return "Both answers have merit." if calls["n"] <= 2 else judge_reply(body)

    judge = fakes("judge", reply=vague_first)
    done = run_judge(url, judge.base_url, "--limit", "2", "--concurrency", "1")
    assert done.returncode == 0, done.stderr
    assert "judged 2 pairs" in done.stdout and "1 without a verdict" in done.stdout
    again = run_judge(url, judge.base_url)
    assert f"judged {len(prompts) - 2} pairs" in again.stdout and "0 without a verdict" in again.stdout
    store = open_store(url)
    assert not store.unjudged_pairs(JUDGE, 100)
    store.close()
