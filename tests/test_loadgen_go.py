"""The compiled load generator (clients/go/cmd/loadgen) run through orchestrouter.tools.loadgen_go:
built with `make loadgen-go`, it loads a real loopback endpoint over HTTP, a fake endpoint that
records what it got, and a real scorer and router over gRPC Route (dry run and answered); a port
that refuses gives counted errors, not a hang. `make test` installs the Go toolchain first."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest

from orchestrouter.tools.bench import loopback_endpoint
from orchestrouter.tools.launcher import start_pair
from orchestrouter.tools.loadgen import QUERIES, LoadResult
from orchestrouter.tools.loadgen_go import (
    BINARY_ENV,
    GoLoadError,
    chat_args,
    choose_client,
    go_closed_loop,
    route_args,
)
from tests.support.layout import ROOT


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    """The load generator, built by the Makefile's target into a folder of this test's own."""
    path = tmp_path_factory.mktemp("loadgen-go") / "loadgen"
    run = subprocess.run(
        ["make", "--no-print-directory", "loadgen-go", f"LOADGEN_GO={path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return path


def load(
    binary: Path, args: list[str], concurrency: int, watch: dict[str, int] | None = None, patience_s: float = 5
) -> LoadResult:
    """A 1 s load after 0.2 s of warmup, patience_s more at most for first answers and for the
    calls in flight after the window; 60 s at most, whatever the target does."""
    coroutine = go_closed_loop(
        args, concurrency, 1.0, 0.2, watch, max_warmup_s=patience_s, drain_s=patience_s, binary=binary
    )
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def assert_answered(result: LoadResult, concurrency: int) -> None:
    assert result.errors == 0, result.first_error
    assert result.concurrency == concurrency
    assert result.completed > concurrency
    assert 0.95 < result.window_s < 5
    assert 0 < result.percentile(50) <= result.percentile(99)
    assert result.client_cpu_s > 0


def test_http_load_against_the_loopback_endpoint_counts_answers_and_cpu(binary) -> None:
    with loopback_endpoint() as (pid, port):
        result = load(
            binary, chat_args(f"http://127.0.0.1:{port}/v1/chat/completions", "loopback"), 4, {"endpoint": pid}
        )
    assert_answered(result, 4)
    assert set(result.server_cpu_s) == {"endpoint"} and result.server_cpu_s["endpoint"] > 0


def test_http_requests_cycle_through_the_queries_with_the_model_and_headers(binary, fakes) -> None:
    fake = fakes("endpoint")
    result = load(binary, chat_args(fake.base_url + "/chat/completions", "m-1", {"Authorization": "Bearer k"}), 2)
    assert_answered(result, 2)
    requests = fake.requests
    assert {r.path for r in requests} == {"/v1/chat/completions"}
    assert {r.headers.get("authorization") for r in requests} == {"Bearer k"}
    assert {r.body["model"] for r in requests} == {"m-1"}
    sent = [r.body["messages"] for r in requests]
    assert {m[0]["content"] for m in sent} == set(QUERIES)
    assert all(m == [{"role": "user", "content": m[0]["content"]}] for m in sent)


def test_grpc_route_dry_run_and_answered_against_a_scorer_and_router(binary, tmp_path) -> None:
    with loopback_endpoint() as (_, port):
        base_url = f"http://127.0.0.1:{port}/v1"
        router_env = {
            "ORCHESTROUTER_SMALL_BASE_URL": base_url,
            "ORCHESTROUTER_PREMIUM_BASE_URL": base_url,
            "ORCHESTROUTER_DECISION_LOG": str(tmp_path / "decisions.jsonl"),
        }
        with start_pair(router_env=router_env) as pair:
            watch = {"router": pair.router.process.pid, "scorer": pair.scorer.process.pid}
            results = {
                dry_run: load(binary, route_args(pair.router.target, dry_run), 4, watch) for dry_run in (True, False)
            }
    for result in results.values():
        assert_answered(result, 4)
        assert result.server_cpu_s["router"] > 0 and result.server_cpu_s["scorer"] > 0
    decisions = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert len(decisions) >= sum(r.completed for r in results.values())  # every routed call reached the router


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_a_refusing_target_counts_errors_and_ends(binary, kind) -> None:
    port = closed_port()
    args = (
        chat_args(f"http://127.0.0.1:{port}/v1/chat/completions", "m")
        if kind == "http"
        else route_args(f"127.0.0.1:{port}", True)
    )
    result = load(binary, args, 2)
    assert result.completed == 0 and result.errors > 0
    assert "refused" in result.first_error.lower() or "unavailable" in result.first_error.lower(), result.first_error


@pytest.mark.parametrize("kind", ["http", "grpc"])
def test_a_target_that_never_answers_is_cut_after_the_drain(binary, kind) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        target = f"http://127.0.0.1:{port}/v1/chat/completions"
        args = chat_args(target, "m") if kind == "http" else route_args(f"127.0.0.1:{port}", True)
        result = load(binary, args, 2, patience_s=0.5)
    assert result.completed == 0
    assert "still in flight" in result.first_error and "cancelled" in result.first_error, result.first_error


def test_a_bad_argument_is_an_error_with_the_binary_s_message(binary) -> None:
    with pytest.raises(GoLoadError, match="HOST:PORT or --http URL"):
        load(binary, [], 1)


def test_the_python_client_measures_when_the_binary_is_not_built(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(BINARY_ENV, str(tmp_path / "not-built"))
    client, note = choose_client(None)
    assert client == "python" and "not built" in note
    assert choose_client("python")[0] == "python"
    with pytest.raises(GoLoadError, match="make loadgen-go"):
        choose_client("go")
    monkeypatch.setenv(BINARY_ENV, os.devnull)  # there, but no program
    assert choose_client(None)[0] == "python"
