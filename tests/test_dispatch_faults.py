"""Dispatch against endpoint faults, through a real router: one test per fault, asserting what the caller sees.

The router model sends every request to premium (win probability 0.9 >= 0.2), so faults are
injected on the premium fake, and small is the fallback.
"""

from __future__ import annotations

import time

import grpc
import pytest

from orchestrouter.router.dispatch.breaker import BreakerSettings
from orchestrouter.v1 import router_pb2
from tests.support.dispatch_stack import KEYS, with_dispatch
from tests.support.fake_openai import Fault

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL


def test_healthy_premium_answers_with_usage_and_cost(stack):
    s = stack()
    reply = s.route("What is six times seven?")
    d = reply.decision
    assert (d.tier, d.routed_tier, d.fell_back, d.attempts) == (PREMIUM, PREMIUM, False, 1)
    assert d.model == "premium-model" and reply.answer == s.premium.answer_text()
    assert reply.finish_reason == "stop"
    # The fake counts words: 5 in the prompt, 5 in the answer; premium costs $2 / $8 per Mtok.
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (5, 5, 10)
    assert reply.usage.cost_usd == pytest.approx((5 * 2.0 + 5 * 8.0) / 1e6)
    assert reply.timings.dispatch_ms > 0
    sent = s.premium.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEYS['premium']}"
    assert sent.body["model"] == "premium-model" and sent.body["messages"][-1]["content"] == "What is six times seven?"
    assert not s.small.requests


def test_500_once_is_retried_on_the_same_tier(stack):
    s = stack()
    s.premium.enqueue(Fault.status_code(500))
    d = s.route().decision
    assert (d.tier, d.fell_back, d.attempts) == (PREMIUM, False, 2)
    assert len(s.premium.requests) == 2 and not s.small.requests
    e = s.endpoint("premium")
    assert (e.requests, e.failures) == (2, 1)


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_persistent_5xx_falls_back_after_the_retries(stack, code):
    s = stack(dispatch=with_dispatch(2))
    s.premium.enqueue(*[Fault.status_code(code)] * 3)
    reply = s.route()
    d = reply.decision
    assert (d.tier, d.routed_tier, d.fell_back, d.attempts) == (SMALL, PREMIUM, True, 4)
    assert d.model == "small-model" and f"premium endpoint answered {code}" in d.fallback_reason
    assert reply.answer == s.small.answer_text()
    # Small's prices: the cost is that of the tier that answered.
    assert reply.usage.cost_usd == pytest.approx((5 * 0.10 + 5 * 0.40) / 1e6)
    assert len(s.premium.requests) == 3 and len(s.small.requests) == 1
    assert s.status().fallbacks == 1


def test_both_tiers_failing_is_unavailable_naming_both(stack):
    s = stack(dispatch=with_dispatch(1))
    s.premium.enqueue(*[Fault.status_code(503)] * 2)
    s.small.enqueue(*[Fault.status_code(500)] * 2)
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "premium endpoint answered 503" in (err.value.details() or "")
    assert "small endpoint answered 500" in (err.value.details() or "")
    assert len(s.premium.requests) == 2 and len(s.small.requests) == 2


def test_fallback_disallowed_shows_the_upstream_failure(stack):
    s = stack(fallback="none", dispatch=with_dispatch(0))
    s.premium.enqueue(Fault.status_code(502))
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "premium endpoint answered 502" in (err.value.details() or "")
    assert not s.small.requests


def test_fallback_direction_is_configurable(stack):
    # to-premium: a failing small tier may hand over to premium, but not the other way round.
    s = stack(fallback="to-premium", dispatch=with_dispatch(0))
    s.small.enqueue(Fault.status_code(500))
    d = s.route(threshold=0.95).decision
    assert (d.routed_tier, d.tier, d.fell_back) == (SMALL, PREMIUM, True)
    s.premium.enqueue(Fault.status_code(500))
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_429_retry_after_is_honoured_when_it_fits(stack):
    s = stack()
    s.premium.enqueue(Fault.status_code(429, retry_after="1"))
    start = time.monotonic()
    d = s.route(timeout=10).decision
    elapsed = time.monotonic() - start
    assert (d.tier, d.fell_back, d.attempts) == (PREMIUM, False, 2)
    assert elapsed >= 0.95, f"retried after {elapsed:.2f}s, before the endpoint's Retry-After of 1s"


def test_429_retry_after_beyond_the_deadline_falls_back_at_once(stack):
    s = stack()
    s.premium.enqueue(Fault.status_code(429, retry_after="30"))
    start = time.monotonic()
    d = s.route(timeout=10).decision
    assert time.monotonic() - start < 2.0
    assert (d.tier, d.fell_back, d.attempts) == (SMALL, True, 2)
    assert "premium endpoint rate-limited the request (429)" in d.fallback_reason
    assert len(s.premium.requests) == 1


def test_429_on_both_tiers_is_resource_exhausted(stack):
    s = stack(dispatch=with_dispatch(0))
    s.premium.enqueue(Fault.status_code(429, retry_after="30"))
    s.small.enqueue(Fault.status_code(429, retry_after="30"))
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "rate-limited" in (err.value.details() or "")


def test_hanging_endpoint_times_out_and_falls_back(stack):
    s = stack(premium={"total_timeout_s": 0.3})
    s.premium.enqueue(Fault.hang())
    start = time.monotonic()
    reply = s.route(timeout=10)
    d = reply.decision
    assert (d.tier, d.fell_back, d.attempts) == (SMALL, True, 2)
    assert "premium endpoint timed out after 0.30s" in d.fallback_reason
    assert reply.answer == s.small.answer_text()
    # A timeout is not retried on the same tier: the time is better spent on the fallback.
    assert len(s.premium.requests) == 1 and time.monotonic() - start < 3.0


def test_hang_with_no_fallback_is_deadline_exceeded(stack):
    s = stack(fallback="none", premium={"total_timeout_s": 0.3})
    s.premium.enqueue(Fault.hang())
    with pytest.raises(grpc.RpcError) as err:
        s.route(timeout=10)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "premium endpoint timed out" in (err.value.details() or "")


def test_the_callers_deadline_bounds_a_hang_and_leaves_time_for_the_fallback(stack):
    # The tier's own timeout (10 s) is longer than the caller's deadline (2 s): the routed tier
    # gets half of the time left (ORCHESTROUTER_FALLBACK_RESERVE=0.5), small answers in the rest.
    s = stack()
    s.premium.enqueue(Fault.hang())
    start = time.monotonic()
    d = s.route(timeout=2.0).decision
    elapsed = time.monotonic() - start
    assert (d.tier, d.fell_back) == (SMALL, True)
    assert 0.8 <= elapsed < 2.0


def test_401_falls_back_without_retrying(stack):
    s = stack()
    s.premium.enqueue(Fault.status_code(401))
    d = s.route().decision
    assert (d.tier, d.fell_back, d.attempts) == (SMALL, True, 2)
    assert "premium endpoint rejected credentials (401)" in d.fallback_reason
    assert len(s.premium.requests) == 1


def test_401_with_no_fallback_is_unauthenticated_without_the_token(stack):
    s = stack(fallback="none")
    s.premium.enqueue(Fault.status_code(403))
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (err.value.details() or "") == "premium endpoint rejected credentials (403)"
    assert KEYS["premium"] not in (err.value.details() or "")


def test_other_4xx_is_not_retried(stack):
    s = stack(fallback="none")
    s.premium.enqueue(Fault.status_code(400))
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "premium endpoint refused the request (400): injected 400" in (err.value.details() or "")
    assert len(s.premium.requests) == 1


def test_connection_reset_is_retried(stack):
    s = stack()
    s.premium.enqueue(Fault.reset(after_deltas=0))
    reply = s.route()
    assert (reply.decision.tier, reply.decision.attempts) == (PREMIUM, 2)
    assert reply.answer == s.premium.answer_text()


def test_generation_params_reach_the_endpoint(stack):
    s = stack()
    params = router_pb2.GenerationParams(temperature=0.3, top_p=0.9, max_tokens=64, stop=["\n\n"], seed=7)
    s.route(params=params)
    body = s.premium.requests[0].body
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["stop"], body["seed"]) == (
        0.3,
        0.9,
        64,
        ["\n\n"],
        7,
    )
    s.route()
    assert not {"temperature", "top_p", "max_tokens", "stop", "seed"} & set(s.premium.requests[1].body)


@pytest.mark.parametrize(
    "params, fragment",
    [
        (router_pb2.GenerationParams(temperature=2.5), "params.temperature must be in [0, 2]"),
        (router_pb2.GenerationParams(top_p=0.0), "params.top_p must be in (0, 1]"),
        (router_pb2.GenerationParams(stop=["a", "b", "c", "d", "e"]), "at most 4"),
    ],
)
def test_bad_generation_params_are_invalid_argument_before_any_call(stack, params, fragment):
    s = stack()
    with pytest.raises(grpc.RpcError) as err:
        s.route(params=params)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and fragment in (err.value.details() or "")
    assert not s.premium.requests


def test_usage_and_cost_add_up_per_tier(stack):
    s = stack(dispatch=with_dispatch(0))
    for _ in range(3):
        s.route()
    s.premium.enqueue(Fault.status_code(500))
    s.route()
    premium, small = s.endpoint("premium"), s.endpoint("small")
    assert (premium.requests, premium.failures, premium.prompt_tokens, premium.completion_tokens) == (4, 1, 15, 15)
    assert premium.cost_usd == pytest.approx(3 * (5 * 2.0 + 5 * 8.0) / 1e6)
    assert (small.requests, small.failures, small.prompt_tokens) == (1, 0, 5)
    assert small.cost_usd == pytest.approx((5 * 0.10 + 5 * 0.40) / 1e6)
    assert premium.circuit == router_pb2.CIRCUIT_STATE_CLOSED


def test_circuit_opens_and_later_fallbacks_skip_the_endpoint(stack):
    s = stack(dispatch=with_dispatch(0, breaker=BreakerSettings(consecutive_failures=3, cooldown_s=60)))
    s.premium.enqueue(*[Fault.status_code(500)] * 3)
    for _ in range(3):
        assert s.route().decision.fell_back
    assert s.endpoint("premium").circuit == router_pb2.CIRCUIT_STATE_OPEN
    d = s.route().decision
    assert (d.tier, d.fell_back, d.attempts) == (SMALL, True, 1)
    assert "premium endpoint's circuit is open" in d.fallback_reason
    assert len(s.premium.requests) == 3, "an open circuit must not call the endpoint"


def test_half_open_probe_closes_the_circuit(stack):
    # A zero-length cool-down: the next request after opening is the probe, and it succeeds.
    s = stack(dispatch=with_dispatch(0, breaker=BreakerSettings(consecutive_failures=2, cooldown_s=1e-3)))
    s.premium.enqueue(*[Fault.status_code(500)] * 2)
    s.route(), s.route()
    time.sleep(0.01)  # past the cool-down: a fast router can ask for its status within the millisecond
    assert s.endpoint("premium").circuit == router_pb2.CIRCUIT_STATE_HALF_OPEN
    d = s.route().decision
    assert (d.tier, d.fell_back) == (PREMIUM, False)
    assert s.endpoint("premium").circuit == router_pb2.CIRCUIT_STATE_CLOSED


def test_unconfigured_premium_falls_back_to_small(stack):
    s = stack(premium={"base_url": ""})
    d = s.route().decision
    assert (d.tier, d.fell_back) == (SMALL, True)
    assert "ORCHESTROUTER_PREMIUM_BASE_URL" in d.fallback_reason
