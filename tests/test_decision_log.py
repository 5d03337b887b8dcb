"""The decision log: one JSON line per request with the decision's fields, the prompt hashed unless
prompt logging is on, and never a credential."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.router.decision_log import MASK, DecisionLog, build_record
from orchestrouter.router.model import Decision, RouteInput, Timings, Usage
from orchestrouter.router.server import RouterServer, StartupError
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.decision_lines import written_lines
from tests.support.fake_openai import Fault
from tests.support.models import ConstantEmbedder, linear_model

TOKEN = "sk-decision-log-test-0f9e8d7c6b5a"
PROMPT = "What is the capital of France?"
FIELDS = {
    "request_id",
    "caller",
    "time",
    "outcome",
    "status",
    "tier",
    "routed_tier",
    "model",
    "win_probability",
    "threshold",
    "router_id",
    "router_version",
    "degraded",
    "degraded_reason",
    "fallback",
    "fallback_reason",
    "attempts",
    "budget_limited",
    "budget_reason",
    "dry_run",
    "ms",
    "usage",
    "cost_usd",
    "prompt_sha256",
    "prompt_chars",
}


def decision(**overrides) -> Decision:
    fields = dict(
        tier="premium",
        model="big",
        win_probability=0.4321,
        threshold=0.2,
        router_id="r",
        router_version="v7",
        routed_tier="premium",
        attempts=1,
    )
    return Decision(**{**fields, **overrides})


def test_a_record_holds_the_decision_hops_usage_and_a_prompt_hash():
    inp = RouteInput(messages=(), query=PROMPT)
    timings = Timings(embed_ms=0.05, score_ms=0.4, dispatch_ms=120.0, total_ms=121.0)
    usage = Usage(prompt_tokens=12, completion_tokens=30, cost_usd=0.00042)
    record = build_record(inp, "ab" * 16, decision(), timings, usage, "answered", "OK")
    assert set(record) == FIELDS
    assert record["request_id"] == "ab" * 16 and record["tier"] == "premium" and record["model"] == "big"
    assert record["win_probability"] == pytest.approx(0.4321) and record["threshold"] == 0.2
    assert record["router_version"] == "v7" and record["fallback"] is False and record["attempts"] == 1
    assert record["ms"] == {"embed": 0.05, "score": 0.4, "dispatch": 120.0, "total": 121.0}
    assert record["usage"] == {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}
    assert record["cost_usd"] == pytest.approx(0.00042)
    assert record["prompt_sha256"] == hashlib.sha256(PROMPT.encode()).hexdigest()
    assert PROMPT not in json.dumps(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    logged_at = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - logged_at).total_seconds()) < 60


def test_the_prompt_appears_only_when_enabled():
    inp = RouteInput(messages=(), query=PROMPT)
    record = build_record(inp, "id", decision(), Timings(), None, "decided", "OK", log_prompt=True)
    assert record["prompt"] == PROMPT and record["prompt_sha256"] == hashlib.sha256(PROMPT.encode()).hexdigest()


def test_a_request_that_failed_before_deciding_still_gets_a_line():
    record = build_record(
        RouteInput(messages=(), query=PROMPT),
        "id",
        None,
        Timings(total_ms=3.0),
        None,
        "failed",
        "INTERNAL",
        "internal error",
    )
    assert record["outcome"] == "failed" and record["error"] == "internal error" and "tier" not in record


def test_the_log_writes_whole_lines_and_masks_configured_keys():
    sink = io.StringIO()
    log = DecisionLog(sink, secrets=[TOKEN, "unused", ""])
    log.write({"request_id": "1", "prompt": f"my key is {TOKEN}, unused"})
    log.write({"request_id": "2"})
    assert log.flush(timeout_s=10)
    lines = sink.getvalue().splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == ["1", "2"]
    assert TOKEN not in sink.getvalue() and MASK in lines[0]
    assert "unused" in lines[0], "placeholder keys too short to be secrets are left alone"


def test_off_writes_nothing_and_a_file_is_appended(tmp_path):
    assert not DecisionLog.open("off").enabled
    path = tmp_path / "decisions.jsonl"
    path.write_text('{"request_id":"earlier"}\n')
    log = DecisionLog.open(str(path))
    log.write({"request_id": "now"})
    log.close()
    assert [json.loads(line)["request_id"] for line in path.read_text().splitlines()] == ["earlier", "now"]


def test_the_configuration_reads_the_decision_log_settings():
    config = RouterConfig.from_env(
        {"ORCHESTROUTER_DECISION_LOG": "/var/log/d.jsonl", "ORCHESTROUTER_LOG_PROMPTS": "true"}
    )
    assert config.decision_log == "/var/log/d.jsonl" and config.log_prompts is True
    defaults = RouterConfig.from_env({})
    assert defaults.decision_log == "stdout" and defaults.log_prompts is False
    with pytest.raises(ConfigError, match="ORCHESTROUTER_DECISION_LOG"):
        RouterConfig.from_env({"ORCHESTROUTER_DECISION_LOG": " "})
    with pytest.raises(ConfigError, match="ORCHESTROUTER_LOG_PROMPTS"):
        RouterConfig.from_env({"ORCHESTROUTER_LOG_PROMPTS": "sometimes"})


def test_an_unwritable_decision_log_stops_startup_with_its_name(loop_thread, tmp_path):
    config = RouterConfig.from_env(
        {
            "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
            "ORCHESTROUTER_DECISION_LOG": str(tmp_path / "no" / "such" / "dir.jsonl"),
        }
    )
    with pytest.raises(StartupError, match="ORCHESTROUTER_DECISION_LOG: cannot open"):
        loop_thread.run(RouterServer(config, embedder=ConstantEmbedder()).start())


# ------------------------------------------------------------------ through a real router, in process


@pytest.fixture
def router_with_log(pair, endpoint, tmp_path):
    """Starts a router (scorer in process, endpoint on loopback) logging decisions to a file."""
    model = linear_model(tmp_path / "p30.onnx", bias=float(np.log(0.3 / 0.7)), version="log-test-1")

    def start(**env):
        path = tmp_path / "decisions.jsonl"
        config = RouterConfig.from_env(
            {
                "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
                "ORCHESTROUTER_SMALL_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_SMALL_API_KEY": TOKEN,
                "ORCHESTROUTER_PREMIUM_API_KEY": TOKEN,
                "ORCHESTROUTER_MAX_RETRIES": "0",
                "ORCHESTROUTER_GRACE_SECONDS": "0.5",
                "ORCHESTROUTER_DECISION_LOG": str(path),
                **env,
            }
        )
        return pair(model, config), path

    return start


def route(port: int, **fields) -> router_pb2.RouteResponse:
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=PROMPT)], **fields)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return router_pb2_grpc.RouterServiceStub(channel).Route(request, timeout=10)


def test_each_request_writes_one_line_with_its_request_id(router_with_log, endpoint, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    logged, path = router_with_log()
    answered = route(logged.router.port, threshold=0.5)
    decided = route(logged.router.port, threshold=0.1, dry_run=True)
    endpoint.always(Fault.status_code(500))
    with pytest.raises(grpc.RpcError) as failed:
        route(logged.router.port, threshold=0.5)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE

    first, second, third = written_lines(logged, path)
    assert all(set(line) >= FIELDS - {"tier", "model"} for line in (first, second, third))
    assert first["request_id"] == answered.request_id and second["request_id"] == decided.request_id
    assert (first["outcome"], first["status"], first["tier"], first["dry_run"]) == ("answered", "OK", "small", False)
    assert first["win_probability"] == pytest.approx(0.3, abs=1e-6) and first["threshold"] == 0.5
    assert first["router_version"] == "log-test-1" and first["attempts"] == answered.decision.attempts == 1
    assert first["usage"]["total_tokens"] == sum(endpoint.usage_for(PROMPT))
    assert first["ms"]["dispatch"] > 0 and first["ms"]["total"] >= first["ms"]["dispatch"]
    assert (second["outcome"], second["tier"], second["dry_run"]) == ("decided", "premium", True)
    assert second["ms"]["dispatch"] == 0 and second["usage"]["total_tokens"] == 0
    assert (third["outcome"], third["status"], third["routed_tier"]) == ("failed", "UNAVAILABLE", "small")
    assert third["request_id"] not in (first["request_id"], second["request_id"])

    everything = path.read_text() + caplog.text + "".join(capsys.readouterr())
    assert all(
        line["prompt_sha256"] == hashlib.sha256(PROMPT.encode()).hexdigest() for line in written_lines(logged, path)
    )
    assert PROMPT not in everything and '"prompt"' not in path.read_text()
    assert TOKEN not in everything
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in endpoint.requests)


def test_prompt_logging_puts_the_prompt_in_the_line(router_with_log):
    logged, path = router_with_log(ORCHESTROUTER_LOG_PROMPTS="true")
    route(logged.router.port, dry_run=True)
    (line,) = written_lines(logged, path)
    assert line["prompt"] == PROMPT and line["prompt_chars"] == len(PROMPT)
