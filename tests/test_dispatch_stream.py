"""RouteStream against endpoint faults: fallback only before the first token, never a silently cut answer."""

from __future__ import annotations

import grpc
import pytest

from orchestrouter.v1 import router_pb2
from tests.support.dispatch_stack import with_dispatch
from tests.support.fake_openai import Fault

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL


def collect(call) -> tuple[list[router_pb2.RouteStreamResponse], grpc.RpcError | None]:
    """Every event the stream delivered, and the error it ended with (None when it ended well)."""
    events = []
    try:
        for event in call:
            events.append(event)
    except grpc.RpcError as exc:
        return events, exc
    return events, None


def kinds(events) -> list[str]:
    return [e.WhichOneof("event") for e in events]


def text(events) -> str:
    return "".join(e.delta for e in events if e.WhichOneof("event") == "delta")


def test_stream_sends_decision_then_deltas_then_usage(stack):
    s = stack()
    events, error = collect(s.route_stream())
    assert error is None
    assert kinds(events)[0] == "decision" and kinds(events)[-1] == "done"
    assert set(kinds(events)[1:-1]) == {"delta"} and len(events) == 2 + len(s.premium.answer_words())
    first = events[0].decision
    assert (first.tier, first.routed_tier, first.fell_back, first.attempts) == (PREMIUM, PREMIUM, False, 1)
    assert text(events) == s.premium.answer_text()
    done = events[-1].done
    assert done.finish_reason == "stop" and done.decision.tier == PREMIUM
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (5, 5)
    assert done.usage.cost_usd == pytest.approx((5 * 2.0 + 5 * 8.0) / 1e6)
    assert done.timings.dispatch_ms > 0 and done.timings.total_ms >= done.timings.dispatch_ms
    body = s.premium.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_dry_run_is_decision_then_done(stack):
    s = stack()
    events, error = collect(s.route_stream(dry_run=True))
    assert error is None and kinds(events) == ["decision", "done"]
    assert events[0].decision.tier == PREMIUM and not s.premium.requests


def test_slow_first_token_falls_back_before_any_text(stack):
    s = stack(premium={"first_token_timeout_s": 0.3})
    s.premium.enqueue(Fault.slow_first_token(5.0))
    events, error = collect(s.route_stream())
    assert error is None
    d = events[0].decision
    assert (d.tier, d.routed_tier, d.fell_back, d.attempts) == (SMALL, PREMIUM, True, 2)
    assert "premium endpoint sent no first token within 0.30s" in d.fallback_reason
    assert text(events) == s.small.answer_text() and events[-1].done.decision.fell_back


def test_hanging_stream_falls_back(stack):
    s = stack(premium={"first_token_timeout_s": 0.3})
    s.premium.enqueue(Fault.hang())
    events, error = collect(s.route_stream())
    assert error is None and events[0].decision.tier == SMALL and text(events) == s.small.answer_text()


def test_500_before_the_stream_is_retried(stack):
    s = stack()
    s.premium.enqueue(Fault.status_code(500))
    events, error = collect(s.route_stream())
    assert error is None
    assert (events[0].decision.tier, events[0].decision.attempts) == (PREMIUM, 2)
    assert text(events) == s.premium.answer_text()


def test_401_on_a_stream_falls_back(stack):
    s = stack()
    s.premium.enqueue(Fault.status_code(401))
    events, error = collect(s.route_stream())
    assert error is None
    d = events[0].decision
    assert (d.tier, d.fell_back) == (SMALL, True) and "rejected credentials" in d.fallback_reason


def test_reset_before_the_first_token_is_retried(stack):
    s = stack()
    s.premium.enqueue(Fault.reset(after_deltas=0))
    events, error = collect(s.route_stream())
    assert error is None
    assert (events[0].decision.tier, events[0].decision.attempts) == (PREMIUM, 2)


def test_reset_mid_stream_ends_unavailable_never_done(stack):
    s = stack()
    s.premium.enqueue(Fault.reset(after_deltas=2, hold=True))
    call = s.route_stream()
    received = [next(call), next(call), next(call)]
    assert kinds(received) == ["decision", "delta", "delta"]
    # The caller holds two deltas now; only then does the endpoint reset the connection.
    s.premium.release_cut()
    events, error = collect(call)
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
    assert "the answer is incomplete" in (error.details() or "") and "premium endpoint" in (error.details() or "")
    assert "done" not in kinds(events)
    assert not s.small.requests, "no fallback once text has reached the caller"
    assert s.endpoint("premium").failures == 1


def test_stream_ending_without_finish_is_unavailable(stack):
    s = stack()
    s.premium.enqueue(Fault.truncate(after_deltas=3))
    events, error = collect(s.route_stream())
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
    assert "ended the stream without finishing the answer" in (error.details() or "")
    assert kinds(events) == ["decision", "delta", "delta", "delta"]


def test_stalled_stream_is_cut_with_unavailable(stack):
    # Two deltas, then silence: the gap between chunks is bounded by the first-token timeout.
    s = stack(premium={"first_token_timeout_s": 0.3})
    s.premium.enqueue(Fault.reset(after_deltas=2, hold=True))
    events, error = collect(s.route_stream())
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE
    assert "sent nothing for" in (error.details() or "") and "the answer is incomplete" in (error.details() or "")
    assert kinds(events) == ["decision", "delta", "delta"]


def test_stream_with_both_tiers_rate_limited_is_resource_exhausted(stack):
    s = stack(dispatch=with_dispatch(0))
    s.premium.enqueue(Fault.status_code(429, retry_after="60"))
    s.small.enqueue(Fault.status_code(429, retry_after="60"))
    events, error = collect(s.route_stream())
    assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert events == []
