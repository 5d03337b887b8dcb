"""RouterService.Route in-process over real channels: the dial, validation, degraded mode."""

from __future__ import annotations

from typing import cast

import grpc
import numpy as np
import pytest

from orchestrouter.router.config import DispatchConfig
from orchestrouter.router.core import RouterCore
from orchestrouter.router.dispatch.dispatcher import Dispatcher
from orchestrouter.router.scorer_client import CoalescingScorer
from orchestrouter.router.server import StartupError
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.models import ConstantEmbedder, linear_model


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


@pytest.fixture
def model_p30(tmp_path):
    """Every query scores 0.30."""
    return linear_model(tmp_path / "p30.onnx", bias=logit(0.30))


def route(port: int, text: str = "hello", **fields) -> router_pb2.RouteResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)], dry_run=True)
        for k, v in fields.items():
            if k == "messages":
                del request.messages[:]
                request.messages.extend(v)
            else:
                setattr(request, k, v)
        return router_pb2_grpc.RouterServiceStub(channel).Route(request, timeout=10)


def test_threshold_dial_decides_the_tier(pair, model_p30):
    r = pair(model_p30).router
    d = route(r.port).decision  # default threshold 0.2: 0.30 >= 0.2 goes premium
    assert d.tier == router_pb2.TIER_PREMIUM and d.model == "Qwen/Qwen2.5-32B-Instruct"
    assert d.win_probability == pytest.approx(0.30, abs=1e-6) and d.threshold == pytest.approx(0.2)
    assert (d.router_id, d.router_version) == ("test-linear", "test-1")
    d = route(r.port, threshold=0.31).decision
    assert d.tier == router_pb2.TIER_SMALL and d.threshold == pytest.approx(0.31)
    assert not d.degraded


def test_premium_share_uses_the_calibration_table(pair, model_p30):
    r = pair(model_p30).router
    # The test model's table is uniform on [0, 1]: share 0.6 -> threshold 0.4 -> small.
    d = route(r.port, premium_share=0.6).decision
    assert d.threshold == pytest.approx(0.4, abs=1e-6) and d.tier == router_pb2.TIER_SMALL
    d = route(r.port, premium_share=0.8).decision
    assert d.threshold == pytest.approx(0.2, abs=1e-6) and d.tier == router_pb2.TIER_PREMIUM


def test_configured_premium_share_sets_the_default_threshold(pair, model_p30):
    r = pair(model_p30, premium_share=0.75).router
    assert route(r.port).decision.threshold == pytest.approx(0.25, abs=1e-6)


def test_timings_and_request_id_are_reported(pair, model_p30):
    r = pair(model_p30).router
    reply = route(r.port)
    assert reply.timings.total_ms > 0 and reply.timings.score_ms > 0
    assert reply.timings.total_ms >= reply.timings.score_ms
    assert len(reply.request_id) == 32 and reply.answer == ""


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"messages": []}, "messages is empty"),
        ({"messages": [router_pb2.ChatMessage(role="wizard", content="hi")]}, "role 'wizard'"),
        ({"messages": [router_pb2.ChatMessage(role="system", content="be brief")]}, "non-empty user message"),
        ({"messages": [router_pb2.ChatMessage(role="user", content="   ")]}, "non-empty user message"),
        ({"threshold": 1.5}, "threshold must be in [0, 1]"),
        ({"threshold": float("nan")}, "threshold must be in [0, 1]"),
        ({"premium_share": -0.1}, "premium_share must be in [0, 1]"),
    ],
)
def test_bad_requests_are_invalid_argument(pair, model_p30, fields, fragment):
    r = pair(model_p30).router
    with pytest.raises(grpc.RpcError) as err:
        route(r.port, **fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


def test_scorer_outage_degrades_to_the_default_tier(pair, model_p30, loop_thread):
    p = pair(model_p30, degraded_tier="premium", threshold=0.9)
    r = p.router
    assert route(r.port).decision.tier == router_pb2.TIER_SMALL
    loop_thread.run(p.scorer.close(0))
    d = route(r.port).decision
    assert d.degraded and d.tier == router_pb2.TIER_PREMIUM
    assert "scorer" in d.degraded_reason


def test_router_refuses_a_model_for_another_embedder(pair, tmp_path):
    model = linear_model(tmp_path / "other.onnx", dim=1536, embedder="text-embedding-3-small")
    with pytest.raises(StartupError) as err:
        pair(model)
    message = str(err.value)
    assert "text-embedding-3-small" in message and "1536" in message and "wordllama" in message


def test_no_endpoint_configured_is_a_clear_error(pair, model_p30):
    r = pair(model_p30).router
    with pytest.raises(grpc.RpcError) as err:
        route(r.port, dry_run=False)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ORCHESTROUTER_PREMIUM_BASE_URL" in (err.value.details() or "")


def test_a_callers_deadline_that_runs_out_is_deadline_exceeded_never_a_degraded_decision(pair, model_p30):
    r = pair(model_p30).router
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content="hi")], dry_run=True)
    codes = []
    with grpc.insecure_channel(f"127.0.0.1:{r.port}") as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        stub.Route(request, timeout=10)  # connected and warm
        for _ in range(50):
            try:
                reply = stub.Route(request, timeout=0.0005)
            except grpc.RpcError as exc:
                codes.append(exc.code())
                continue
            assert not reply.decision.degraded
            codes.append(grpc.StatusCode.OK)
        status = stub.GetStatus(router_pb2.GetStatusRequest(), timeout=10)
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED}
    assert status.degraded == 0


@pytest.mark.parametrize("share, threshold", [(0.0, 1.0), (1.0, 0.0)])
def test_premium_share_ends_mean_never_and_always(share, threshold):
    from orchestrouter.router.policy import ThresholdPolicy

    policy = ThresholdPolicy(0.2, calibration_quantiles=(0.1, 0.2, 0.4))
    assert policy.threshold_for_share(share) == threshold


def test_the_core_takes_the_scorers_model_and_reports_its_status():
    no_scorer = cast(CoalescingScorer, None)  # neither use_model() nor status() asks the scorer
    core = RouterCore(ConstantEmbedder(), no_scorer, Dispatcher({}, "both", DispatchConfig()), 0.2, 0.25, "small")
    assert core.status().threshold == 0.2, "a premium share waits for the model's calibration table"
    core.use_model("mf", "v3", [0.1, 0.2, 0.4])
    status = core.status()
    assert (status.router_id, status.router_version, status.endpoints) == ("mf", "v3", ())
    assert status.threshold == pytest.approx(0.3), "a quarter of the reference prompts scores above 0.3"
