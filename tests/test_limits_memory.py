"""Memory limits (issue 10, defect 7): each service receives requests up to its own size, and an
endpoint's answer is held up to its tier's cap; beyond either, a clear status and no crash.

The router model sends every request to premium, so an oversized premium answer falls back to
small before the first token, and is cut (UNAVAILABLE) after it.
"""

from __future__ import annotations

import grpc
import pytest

from orchestrouter.router.config import RouterConfig
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.v1 import router_pb2
from tests.support.fake_openai import Fault

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL
CAP = 64 * 1024


def test_the_defaults_bound_what_one_request_holds():
    config = RouterConfig()
    assert config.max_request_bytes <= 4 * 1024 * 1024
    assert config.premium.max_answer_bytes <= 16 * 1024 * 1024
    # A full Score batch (4,096 rows of 1,536 float32) fits the scorer's limit.
    scorer = ScorerConfig()
    assert scorer.max_request_rows * 1536 * 4 < scorer.max_request_bytes <= 64 * 1024 * 1024


def test_an_oversized_route_request_is_resource_exhausted_and_the_router_serves_on(stack):
    s = stack(max_request_bytes=CAP)
    with pytest.raises(grpc.RpcError) as caught:
        s.route("word " * (CAP // 4))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not s.premium.requests and not s.small.requests
    assert s.route("a short one").answer == s.premium.answer_text()


def test_an_oversized_score_request_is_resource_exhausted(scorer_factory, random_model):
    scorer = scorer_factory(random_model, max_request_bytes=CAP)
    with grpc.insecure_channel(scorer.target) as channel:
        score = channel.unary_unary("/orchestrouter.v1.ScorerService/Score", None, None)
        with pytest.raises(grpc.RpcError) as caught:
            score(b"\x00" * (CAP + 1), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_an_answer_over_the_tier_cap_falls_back(stack):
    s = stack(premium={"max_answer_bytes": CAP})
    s.premium.always(Fault.oversized(16 * CAP))
    reply = s.route()
    d = reply.decision
    assert (d.tier, d.routed_tier, d.fell_back) == (SMALL, PREMIUM, True)
    assert f"premium endpoint answered more than {CAP} bytes" in d.fallback_reason
    assert reply.answer == s.small.answer_text()
    # Under the cap the same endpoint is fine.
    s.premium.always(Fault.oversized(CAP // 2))
    assert s.route().decision.tier == PREMIUM


def test_a_streamed_answer_over_the_cap_before_its_first_token_falls_back(stack):
    s = stack(premium={"max_answer_bytes": CAP})
    s.premium.always(Fault.oversized(16 * CAP, after_deltas=0))
    events = list(s.route_stream())
    d = events[0].decision
    assert (d.tier, d.fell_back) == (SMALL, True) and "more than" in d.fallback_reason


def test_a_streamed_answer_over_the_cap_after_its_first_token_is_cut(stack):
    s = stack(premium={"max_answer_bytes": CAP})
    s.premium.always(Fault.oversized(16 * CAP, after_deltas=2))
    call = s.route_stream()
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for event in call:
            received.append(event)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "the answer is incomplete" in (caught.value.details() or "")
    assert received[0].decision.tier == PREMIUM and not s.small.requests
