"""One Route request, traced end to end: caller -> router -> scorer -> model endpoint, over OTLP.

The scorer and the router run as separate processes exporting to a real OTLP/gRPC receiver in the
test process; a loopback HTTP server stands in for the model endpoint and records the traceparent
it receives. The test is the caller and sends a traceparent of its own, so the whole request must
land in that one trace with the right parent links and the decision on the Route span.
"""

from __future__ import annotations

import json
import secrets

import grpc
import numpy as np
import pytest

from orchestrouter.tools.launcher import start_pair
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.fake_openai import FakeOpenAI
from tests.support.models import linear_model
from tests.support.otlp_receiver import CLIENT, INTERNAL, SERVER, OtlpReceiver, ReceivedSpan
from tests.support.reload import wait_until

ROUTER, SCORER = "orchestrouter-router", "orchestrouter-scorer"
ROUTE = "/orchestrouter.v1.RouterService/Route"
SCORE = "/orchestrouter.v1.ScorerService/Score"
PREMIUM_MODEL = "premium-test-model"
TOKEN = "sk-telemetry-" + secrets.token_hex(12)  # recognizable, and in no file
WIN_PROBABILITY = 0.7
QUERY = "Prove that there are infinitely many primes."
# The dispatch layer registers the circuit-state gauge.
CIRCUIT_STATE_NAMES = ("orchestrouter.endpoint.circuit_state",)


def otel_env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    """Exports to the receiver, quickly; names and resources left to the services' defaults."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_SERVICE_NAME": "",
        "OTEL_RESOURCE_ATTRIBUTES": "",
        "OTEL_SDK_DISABLED": "false",
        **extra,
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory, loop_thread):
    receiver = OtlpReceiver().start()
    endpoint = loop_thread.run(FakeOpenAI("endpoint").start())
    logit = float(np.log(WIN_PROBABILITY / (1 - WIN_PROBABILITY)))
    model = linear_model(tmp_path_factory.mktemp("telemetry") / "p70.onnx", bias=logit, version="trace-test-1")
    try:
        pair = start_pair(
            {**otel_env(receiver), "ORCHESTROUTER_SCORER_MODEL": str(model)},
            {
                **otel_env(receiver),
                "ORCHESTROUTER_THRESHOLD": "0.2",
                "ORCHESTROUTER_SMALL_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_PREMIUM_BASE_URL": endpoint.base_url,
                "ORCHESTROUTER_SMALL_API_KEY": TOKEN,
                "ORCHESTROUTER_PREMIUM_API_KEY": TOKEN,
                "ORCHESTROUTER_PREMIUM_MODEL": PREMIUM_MODEL,
                "ORCHESTROUTER_DECISION_LOG": "stdout",
            },
        )
        try:
            yield receiver, endpoint, pair.scorer, pair.router
        finally:
            pair.stop(10)
    finally:
        loop_thread.run(endpoint.stop())
        receiver.stop()


@pytest.fixture(scope="module")
def routed(stack):
    """One Route request with the caller's own trace context; its response and that context."""
    receiver, endpoint, scorer, router = stack
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=QUERY)])
    with grpc.insecure_channel(router.target) as channel:
        response = router_pb2_grpc.RouterServiceStub(channel).Route(
            request, timeout=30, metadata=[("traceparent", f"00-{trace_id}-{parent_id}-01")]
        )
    return response, trace_id, parent_id


def is_http_client(span: ReceivedSpan) -> bool:
    return span.kind == CLIENT and ("http.method" in span.attributes or "http.request.method" in span.attributes)


def whole_trace(trace_id: str):
    """A receiver condition: the trace once every hop's spans are in, else None."""
    need = {
        (ROUTER, ROUTE, SERVER),
        (ROUTER, "router.embed", INTERNAL),
        (ROUTER, SCORE, CLIENT),
        (SCORER, SCORE, SERVER),
        (SCORER, "scorer.onnx_run", INTERNAL),
    }

    def found(receiver: OtlpReceiver):
        spans = receiver.trace(trace_id)
        have = {(s.service, s.name, s.kind) for s in spans}
        return spans if need <= have and any(is_http_client(s) for s in spans) else None

    return found


def one(spans: list[ReceivedSpan], service: str, name: str, kind: int) -> ReceivedSpan:
    matches = [s for s in spans if (s.service, s.name, s.kind) == (service, name, kind)]
    assert len(matches) == 1, (service, name, matches)
    return matches[0]


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    chain, current = [], span
    while current.parent_span_id in by_id:
        current = by_id[current.parent_span_id]
        chain.append(current.span_id)
    return chain


def test_one_route_is_one_trace_across_both_processes_and_the_endpoint(stack, routed):
    receiver, endpoint, _, _ = stack
    response, trace_id, caller_span_id = routed
    spans = receiver.wait_for(whole_trace(trace_id))

    route = one(spans, ROUTER, ROUTE, SERVER)
    assert route.parent_span_id == caller_span_id, "the Route span continues the caller's trace"
    assert one(spans, ROUTER, "router.embed", INTERNAL).parent_span_id == route.span_id
    score_client = one(spans, ROUTER, SCORE, CLIENT)
    assert score_client.parent_span_id == route.span_id
    score_server = one(spans, SCORER, SCORE, SERVER)
    assert score_server.parent_span_id == score_client.span_id, "W3C context crossed gRPC metadata"
    onnx_run = one(spans, SCORER, "scorer.onnx_run", INTERNAL)
    assert onnx_run.parent_span_id == score_server.span_id
    assert onnx_run.attributes["orchestrouter.batch.rows"] >= 1
    assert onnx_run.attributes["orchestrouter.batch.offset"] + 1 <= onnx_run.attributes["orchestrouter.batch.rows"]

    http_spans = [s for s in spans if is_http_client(s)]
    assert http_spans and all(s.service == ROUTER and route.span_id in ancestors(s, spans) for s in http_spans)
    attempts = [s for s in spans if s.name == "dispatch.attempt"]
    if attempts:  # the dispatch layer wraps each attempt: the HTTP call sits inside one
        assert all(s.parent_span_id in {a.span_id for a in attempts} for s in http_spans)

    # The endpoint's side: the traceparent it received names the router's HTTP client span.
    received = [
        r.headers["traceparent"].split("-")
        for r in endpoint.requests
        if r.headers.get("traceparent", "").split("-")[1:2] == [trace_id]
    ]
    assert received, "the model endpoint received this trace's context"
    assert {parent for _, _, parent, _ in received} == {s.span_id for s in http_spans}
    assert {s.trace_id for s in spans} == {trace_id}


def test_the_route_span_carries_the_decision(stack, routed):
    receiver, endpoint, _, _ = stack
    prompt_tokens, completion_tokens = endpoint.usage_for(QUERY)
    response, trace_id, _ = routed
    route = one(receiver.wait_for(whole_trace(trace_id)), ROUTER, ROUTE, SERVER)
    a = route.attributes
    assert a["orchestrouter.tier"] == "premium" and a["orchestrouter.model"] == PREMIUM_MODEL
    assert a["orchestrouter.win_probability"] == pytest.approx(WIN_PROBABILITY, abs=1e-5)
    assert a["orchestrouter.threshold"] == pytest.approx(0.2)
    assert a["orchestrouter.router_version"] == "trace-test-1"
    assert a["orchestrouter.fallback"] is False and a["orchestrouter.degraded"] is False
    assert a["orchestrouter.attempts"] == response.decision.attempts >= 1
    assert a["gen_ai.usage.input_tokens"] == prompt_tokens and a["gen_ai.usage.output_tokens"] == completion_tokens
    assert response.decision.tier == router_pb2.TIER_PREMIUM and response.answer


def test_the_request_id_is_the_trace_id_and_leads_to_the_decision_log_line(stack, routed):
    receiver, endpoint, _, router = stack
    response, trace_id, _ = routed
    assert response.request_id == trace_id
    receiver.wait_for(whole_trace(trace_id))  # the request is over on the router's side by now

    def mine() -> list[dict]:
        lines = [json.loads(line) for line in list(router.log_lines) if line.startswith("{")]
        return [line for line in lines if line["request_id"] == trace_id]

    # The decision log's writer gathers lines for a few tens of milliseconds before it writes them.
    wait_until(lambda: bool(mine()), "the decision log line")
    (line,) = mine()  # exactly one
    assert line["tier"] == "premium" and line["outcome"] == "answered"
    assert line["usage"]["total_tokens"] == sum(endpoint.usage_for(QUERY))
    assert "prompt" not in line and QUERY not in "\n".join(router.log_lines)


def test_health_checks_make_no_spans(stack, routed):
    receiver = stack[0]
    receiver.wait_for(whole_trace(routed[1]))
    assert not [s for s in receiver.spans if "grpc.health" in s.name or "grpc.reflection" in s.name]


def test_metrics_are_exported_from_both_services(stack, routed):
    receiver = stack[0]

    def exported(r: OtlpReceiver):
        routes = [
            p
            for p in r.points
            if p.service == ROUTER
            and p.metric == "orchestrouter.routes"
            and p.attributes.get("orchestrouter.tier") == "premium"
            and p.attributes.get("orchestrouter.outcome") == "answered"
        ]
        names = {(p.service, p.metric) for p in r.points}
        need = {
            (ROUTER, "orchestrouter.win_probability"),
            (ROUTER, "orchestrouter.hop.duration"),
            (SCORER, "orchestrouter.score.batch.rows"),
            (SCORER, "orchestrouter.score.batch.requests"),
            (SCORER, "orchestrouter.hop.duration"),
        }
        circuit = {(ROUTER, name) for name in CIRCUIT_STATE_NAMES} & names
        return routes if routes and need <= names and circuit else None

    routes = receiver.wait_for(exported)
    assert routes[-1].attributes["orchestrouter.model"] == PREMIUM_MODEL and routes[-1].value >= 1
    hops = {p.attributes.get("orchestrouter.hop") for p in receiver.points if p.metric == "orchestrouter.hop.duration"}
    assert {"embed", "score", "dispatch", "total", "scorer.queue", "scorer.onnx_run"} <= hops


def test_the_api_token_reaches_the_endpoint_and_nothing_else(stack, routed):
    receiver, endpoint, scorer, router = stack
    receiver.wait_for(whole_trace(routed[1]))
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in endpoint.requests)
    assert router.log_lines and scorer.log_lines
    for line in router.log_lines + scorer.log_lines:
        assert TOKEN not in line
    for span in receiver.spans:
        assert TOKEN not in json.dumps(span.attributes, default=str)


def test_a_streamed_route_is_traced_the_same_way(stack):
    receiver, endpoint, _, router = stack
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=QUERY)])
    with grpc.insecure_channel(router.target) as channel:
        events = list(
            router_pb2_grpc.RouterServiceStub(channel).RouteStream(
                request, timeout=30, metadata=[("traceparent", f"00-{trace_id}-{parent_id}-01")]
            )
        )
    assert events[-1].WhichOneof("event") == "done" and events[-1].done.request_id == trace_id

    stream_name = "/orchestrouter.v1.RouterService/RouteStream"

    def found(r: OtlpReceiver):
        spans = r.trace(trace_id)
        done = {(s.service, s.name) for s in spans} >= {(ROUTER, stream_name), (SCORER, "scorer.onnx_run")}
        return spans if done and any(is_http_client(s) for s in spans) else None

    spans = receiver.wait_for(found)
    route = one(spans, ROUTER, stream_name, SERVER)
    assert route.parent_span_id == parent_id
    assert route.attributes["orchestrouter.tier"] == "premium"
    assert route.attributes["orchestrouter.win_probability"] == pytest.approx(WIN_PROBABILITY, abs=1e-5)
    assert route.attributes["gen_ai.usage.output_tokens"] == endpoint.usage_for(QUERY)[1]
    http_spans = [s for s in spans if is_http_client(s)]
    assert all(route.span_id in ancestors(s, spans) for s in http_spans)
    assert any(
        r.headers.get("traceparent", "").split("-")[2:3] == [s.span_id] for r in endpoint.requests for s in http_spans
    )
