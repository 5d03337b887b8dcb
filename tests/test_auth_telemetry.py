"""Authentication in the service processes, traced: the caller's name (never its token) is on both
services' server spans and on the routes counter, and no token reaches a log line or a span."""

from __future__ import annotations

import json
import secrets

import grpc
import pytest

from orchestrouter.tools.launcher import start_pair
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.decision_lines import logged_lines
from tests.support.models import linear_model
from tests.support.otlp_receiver import SERVER, OtlpReceiver
from tests.test_telemetry_trace import ROUTE, ROUTER, SCORE, SCORER, otel_env

WEB = "web-" + secrets.token_hex(16)
ROUTER_TOKEN = "router-" + secrets.token_hex(16)
WRONG = "wrong-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    (folder / "callers").write_text(f"web:{WEB}\n")
    (folder / "scorer-callers").write_text(f"router:{ROUTER_TOKEN}\n")
    (folder / "router.token").write_text(ROUTER_TOKEN + "\n")
    model = linear_model(folder / "model.onnx", bias=0.0)
    receiver = OtlpReceiver().start()
    try:
        pair = start_pair(
            {
                **otel_env(receiver),
                "ORCHESTROUTER_SCORER_MODEL": str(model),
                "ORCHESTROUTER_AUTH_TOKENS_FILE": str(folder / "scorer-callers"),
            },
            {
                **otel_env(receiver),
                "ORCHESTROUTER_AUTH_TOKENS_FILE": str(folder / "callers"),
                "ORCHESTROUTER_SCORER_TOKEN_FILE": str(folder / "router.token"),
                "ORCHESTROUTER_DECISION_LOG": "stdout",
            },
        )
        try:
            yield receiver, pair.scorer, pair.router
        finally:
            pair.stop(10)
    finally:
        receiver.stop()


def route(target: str, token: str, trace_id: str) -> router_pb2.RouteResponse:
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content="hi")], dry_run=True)
    metadata = [("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"), ("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(target) as channel:
        return router_pb2_grpc.RouterServiceStub(channel).Route(request, timeout=30, metadata=metadata)


def test_the_caller_is_on_both_server_spans_and_the_routes_counter_and_no_token_anywhere(secured):
    receiver, scorer, router = secured
    trace_id = secrets.token_hex(16)
    assert not route(router.target, WEB, trace_id).decision.degraded  # the router reached the scorer

    refused_trace = secrets.token_hex(16)
    with pytest.raises(grpc.RpcError) as err:
        route(router.target, WRONG, refused_trace)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

    def found(r: OtlpReceiver):
        spans = r.trace(trace_id) + r.trace(refused_trace)
        # Each trace's spans may come in a batch of their own: wait for every span asserted on below.
        have = {(s.service, s.name, s.kind, s.trace_id) for s in spans}
        wanted = {
            (ROUTER, ROUTE, SERVER, trace_id),
            (SCORER, SCORE, SERVER, trace_id),
            (ROUTER, ROUTE, SERVER, refused_trace),
        }
        routes = [p for p in r.points if p.metric == "orchestrouter.routes"]
        return (spans, routes) if wanted <= have and routes else None

    spans, routes = receiver.wait_for(found)
    by_service = {(s.service, s.trace_id): s for s in spans if s.kind == SERVER}
    assert by_service[(ROUTER, trace_id)].attributes["orchestrouter.caller"] == "web"
    assert by_service[(SCORER, trace_id)].attributes["orchestrouter.caller"] == "router"
    assert "orchestrouter.caller" not in by_service[(ROUTER, refused_trace)].attributes
    assert routes[-1].attributes["orchestrouter.caller"] == "web"

    assert [line["caller"] for line in logged_lines(router)] == ["web"]
    text = "\n".join(router.log_lines + scorer.log_lines) + json.dumps([s.attributes for s in receiver.spans])
    assert not [t for t in (WEB, ROUTER_TOKEN, WRONG) if t in text]
