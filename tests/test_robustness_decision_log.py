"""A decision log that cannot be written (a full disk, a closed pipe) never fails a request that was
already answered: the caller gets its answer, the failure is counted and reported at most once per
interval (issue 10, defect 2)."""

from __future__ import annotations

import logging

import numpy as np

from orchestrouter.router.config import RouterConfig
from orchestrouter.router.decision_log import DecisionLog
from orchestrouter.router.model import RouteInput, RouteResult, Timings
from orchestrouter.router.route_observer import RouteObserver
from orchestrouter.runtime.throttled_log import ThrottledWarning
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.decision_lines import flushed
from tests.support.models import linear_model

TOKEN = "sk-robust-decision-log-0a1b2c3d"


class BrokenPipe:
    """A sink whose reader went away: every write raises BrokenPipeError."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_full_disk_under_the_decision_log_does_not_fail_answered_requests(pair, endpoint, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    model = linear_model(tmp_path / "p30.onnx", bias=float(np.log(0.3 / 0.7)))
    config = RouterConfig.from_env(
        {
            "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
            "ORCHESTROUTER_SMALL_BASE_URL": endpoint.base_url,
            "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint.base_url,
            "ORCHESTROUTER_SMALL_API_KEY": TOKEN,
            "ORCHESTROUTER_PREMIUM_API_KEY": TOKEN,
            "ORCHESTROUTER_DECISION_LOG": "/dev/full",
        }
    )
    p = pair(model, config)
    stub = router_pb2_grpc.RouterServiceStub(p.channel)
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content="hi")])
    answers = [stub.Route(request, timeout=10) for _ in range(5)]
    assert all(a.answer for a in answers) and len(endpoint.requests) == 5
    assert flushed(p), "the writer thread took all five lines"
    assert p.router.core.observer.failures.count == 5
    reports = [r for r in caplog.records if "decision log" in r.getMessage()]
    assert len(reports) == 1 and reports[0].exc_info is None


def test_a_closed_pipe_is_counted_and_reported_once_per_interval(caplog):
    caplog.set_level(logging.WARNING)
    now = [0.0]
    observer = RouteObserver(DecisionLog(BrokenPipe()))  # type: ignore[arg-type]
    observer.failures = ThrottledWarning(logging.getLogger("t"), "decision log write failed", 60.0, lambda: now[0])
    inp = RouteInput(messages=(), query="q")
    result = RouteResult(decision=None, timings=Timings(), request_id="r")  # type: ignore[arg-type]
    for _ in range(3):
        observer.finished(inp, result)
    # The lines are written (and fail) on the log's writer thread: wait for it before moving the clock.
    assert observer.decision_log.flush(timeout_s=10)
    now[0] = 61.0
    observer.finished(inp, result)
    observer.failed(inp, None, Timings(), RuntimeError("x"))
    assert observer.decision_log.flush(timeout_s=10)
    assert observer.failures.count == 5
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "(3 times" in messages[1]
    # At shutdown the occurrences not yet reported get their line, so the lines add up to the count.
    observer.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3 and "(1 times" in messages[2]
    counts = [int(m.split("(", 1)[1].split(" times")[0]) for m in messages]
    assert sum(counts) == observer.failures.count
    observer.close()
    assert len(caplog.records) == 3, "nothing left to report"
