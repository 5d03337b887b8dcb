"""ORCHESTROUTER_ROUTER_WORKERS (issue 14): N router processes on one port under a supervisor.

Requests spread over the workers, SIGTERM under load drains them all with nothing lost (every
request answered, every decision-log line written), a killed worker is replaced, and a worker
that cannot start or keeps dying ends the supervisor with a non-zero exit code."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest

from orchestrouter.router.config import ConfigError, RouterConfig, available_cpus
from orchestrouter.router.workers import MAX_DEATHS, Supervisor
from orchestrouter.tools.launcher import Service, http_port, start_pair
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.fake_openai import Fault
from tests.support.pair import request

SERVING = re.compile(r"router worker (\d+) \(pid (\d+)\) serving$")


def serving_workers(router: Service, count: int, timeout_s: float = 60.0) -> dict[int, int]:
    """Worker index -> pid of the latest worker the supervisor reported serving, once count are."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = {int(m[1]): int(m[2]) for line in list(router.log_lines) if (m := SERVING.search(line))}
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    raise AssertionError("workers not serving:\n" + "\n".join(router.log_lines[-20:]))


def route_on_new_connections(target: str, count: int, threads: int = 8, **fields) -> list[router_pb2.RouteResponse]:
    """count Route calls, each on a new TCP connection (which the kernel places on one worker).

    A local subchannel pool: gRPC otherwise shares one connection among a process's channels to a target.
    """

    def one(i: int) -> router_pb2.RouteResponse:
        with grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            return router_pb2_grpc.RouterServiceStub(channel).Route(
                request(f"what is {i} times seven?", **fields), timeout=30
            )

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def two_workers(endpoint, random_model, tmp_path):
    decision_log = tmp_path / "decisions.jsonl"
    router_env = {
        "ORCHESTROUTER_ROUTER_WORKERS": "2",
        "ORCHESTROUTER_SMALL_BASE_URL": endpoint.base_url,
        "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint.base_url,
        "ORCHESTROUTER_GRACE_SECONDS": "20",
        "ORCHESTROUTER_DECISION_LOG": str(decision_log),
        # Port 0 everywhere: worker 0 binds them, worker 1 joins the ports it got.
        "ORCHESTROUTER_HTTP_LISTEN": "127.0.0.1:0",
        "ORCHESTROUTER_HEALTH_LISTEN": "127.0.0.1:0",
    }
    with start_pair({"ORCHESTROUTER_SCORER_MODEL": str(random_model)}, router_env) as pair:
        yield pair, decision_log


def test_requests_spread_over_the_workers_and_sigterm_under_load_loses_nothing(two_workers, endpoint):
    pair, decision_log = two_workers
    router = pair.router
    pids = serving_workers(router, 2)
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port(router)}") as http:
        assert all(http.get("/readyz").status_code == 200 for _ in range(4))
    decided = route_on_new_connections(router.target, 40, dry_run=True)
    assert all(d.decision.tier in (router_pb2.TIER_SMALL, router_pb2.TIER_PREMIUM) for d in decided)

    # 16 routed requests in flight on both workers, each waiting 1 s for its answer, then SIGTERM.
    endpoint.always(Fault.slow_first_token(1.0))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(route_on_new_connections, router.target, 16, 16)
        endpoint.wait_for_requests(16)
        router.process.send_signal(signal.SIGTERM)
        answers = in_flight.result(timeout=60)
    assert [a.answer for a in answers] == [endpoint.answer_text()] * 16
    assert router.process.wait(60) == 0
    assert not [pid for pid in pids.values() if alive(pid)], "no worker outlives the supervisor"

    lines = log_lines(decision_log)
    assert len(lines) == 56, "every request's line, written before the workers exited"
    assert {line["worker"] for line in lines[:40] if line["outcome"] == "decided"} == {0, 1}
    answered = [line for line in lines if line["outcome"] == "answered"]
    assert len(answered) == 16 and {line["worker"] for line in answered} == {0, 1}
    assert any("all router workers drained" in line for line in router.log_lines)


def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(two_workers):
    pair, decision_log = two_workers
    router = pair.router
    before = serving_workers(router, 2)
    os.kill(before[1], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (after := serving_workers(router, 2))[1] == before[1]:
        assert time.monotonic() < deadline, "worker 1 was not replaced:\n" + "\n".join(router.log_lines[-20:])
        time.sleep(0.05)
    assert after[0] == before[0] and after[1] != before[1]
    assert any(f"router worker 1 (pid {before[1]}) exited with -9: restarting it" in line for line in router.log_lines)
    decided = route_on_new_connections(router.target, 30, dry_run=True)
    assert len(decided) == 30
    assert router.process.poll() is None, "the supervisor lives on"
    assert router.stop(60) == 0
    assert {line["worker"] for line in log_lines(decision_log)} == {0, 1}


def supervisor(command: str) -> Supervisor:
    config = RouterConfig.from_env({"ORCHESTROUTER_ROUTER_WORKERS": "2", "ORCHESTROUTER_GRACE_SECONDS": "1"})
    return Supervisor(config, [sys.executable, "-c", command])


def test_a_first_worker_that_cannot_start_ends_the_supervisor_with_its_exit_code():
    assert supervisor("import sys; sys.exit(2)").run() == 2


def test_workers_that_keep_dying_end_the_supervisor_with_exit_code_1(caplog):
    # Each "worker" reports ready, then dies at once.
    ready_then_die = (
        "import os, sys; os.write(int(os.environ['ORCHESTROUTER_ROUTER_WORKER_READY_FD']),"
        ' b\'{"port": 1, "http_port": 0, "health_port": 0}\\n\'); sys.exit(1)'
    )
    assert supervisor(ready_then_die).run() == 1
    assert any("router workers keep dying" in r.getMessage() for r in caplog.records)
    restarts = [r for r in caplog.records if "restarting it" in r.getMessage()]
    assert len(restarts) == MAX_DEATHS


def test_the_workers_setting():
    assert RouterConfig.from_env({}).workers == 1
    assert RouterConfig.from_env({"ORCHESTROUTER_ROUTER_WORKERS": "3"}).workers == 3
    assert RouterConfig.from_env({"ORCHESTROUTER_ROUTER_WORKERS": "auto"}).workers == available_cpus() >= 1
    for bad in ("0", "-1", "two", "1000"):
        with pytest.raises(ConfigError, match="ORCHESTROUTER_ROUTER_WORKERS must be auto or 1..256"):
            RouterConfig.from_env({"ORCHESTROUTER_ROUTER_WORKERS": bad})
    with pytest.raises(ConfigError, match="ORCHESTROUTER_ROUTER_LISTEN: several router workers share a TCP port"):
        RouterConfig.from_env({"ORCHESTROUTER_ROUTER_WORKERS": "2", "ORCHESTROUTER_ROUTER_LISTEN": "unix:/tmp/r.sock"})


def test_auto_is_capped_by_the_cgroup_cpu_limit_rounded_up(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert available_cpus(tmp_path) == min(2, len(os.sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus(tmp_path) == len(os.sched_getaffinity(0))
