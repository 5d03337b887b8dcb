"""One front-door request, traced: the router (a process exporting to a real OTLP receiver) continues
the caller's traceparent in an HTTP server span carrying the decision and the caller, the request id
is the trace id, and the endpoint call nests under it, as for Route."""

from __future__ import annotations

import secrets

import httpx
import numpy as np
import pytest

from orchestrouter.tools.launcher import http_port, start_pair
from tests.support.fake_openai import FakeOpenAI
from tests.support.models import linear_model
from tests.support.otlp_receiver import SERVER, OtlpReceiver
from tests.test_telemetry_trace import ROUTER, ancestors, is_http_client, one, otel_env

CHAT = "POST /v1/chat/completions"
WIN_PROBABILITY = 0.7


@pytest.fixture
def traced(tmp_path, loop_thread):
    receiver = OtlpReceiver().start()
    endpoint = loop_thread.run(FakeOpenAI("endpoint").start())
    logit = float(np.log(WIN_PROBABILITY / (1 - WIN_PROBABILITY)))
    model = linear_model(tmp_path / "p70.onnx", bias=logit, version="trace-door-1")
    try:
        pair = start_pair(
            {**otel_env(receiver), "ORCHESTROUTER_SCORER_MODEL": str(model)},
            {
                **otel_env(receiver),
                "ORCHESTROUTER_HTTP_LISTEN": "127.0.0.1:0",
                "ORCHESTROUTER_SMALL_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_DECISION_LOG": "off",
            },
        )
        try:
            yield receiver, f"http://127.0.0.1:{http_port(pair.router)}/v1"
        finally:
            pair.stop(10)
    finally:
        loop_thread.run(endpoint.stop())
        receiver.stop()


def test_a_front_door_request_is_one_trace_with_the_decision_on_its_server_span(traced):
    receiver, base_url = traced
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    body = {"model": "orchestrouter-auto", "messages": [{"role": "user", "content": "Prove Fermat's little theorem."}]}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        response = http.post("/chat/completions", json=body, headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert response.status_code == 200
    assert response.json()["id"] == response.headers["x-orchestrouter-request-id"] == trace_id

    def found(r: OtlpReceiver):
        spans = r.trace(trace_id)
        return spans if any(s.name == CHAT for s in spans) and any(is_http_client(s) for s in spans) else None

    spans = receiver.wait_for(found)
    door = one(spans, ROUTER, CHAT, SERVER)
    assert door.parent_span_id == parent_id, "the server span continues the caller's trace"
    assert door.attributes["orchestrouter.tier"] == "premium"
    assert door.attributes["orchestrouter.win_probability"] == pytest.approx(WIN_PROBABILITY, abs=1e-3)
    assert door.attributes["http.route"] == "/v1/chat/completions"
    assert door.attributes["http.response.status_code"] == 200
    assert door.attributes["orchestrouter.caller"] == ""
    http_calls = [s for s in spans if is_http_client(s)]
    assert http_calls and all(door.span_id in ancestors(s, spans) for s in http_calls)
