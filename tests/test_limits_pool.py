"""A hung endpoint cannot hold the router (issue 10, defect 8): a caller waits at most the pool
timeout for one of the tier's connections, and callers that set no deadline get one that the
tiers' timeouts bound, so requests fall back to the other tier instead of queueing for minutes.

The router model sends every request to premium; the premium fake hangs on every call.
"""

from __future__ import annotations

from orchestrouter.router.config import DispatchConfig, TierConfig
from orchestrouter.v1 import router_pb2
from tests.support.fake_openai import Fault
from tests.support.pair import request

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL
POOL = 2
CALLERS = 6


def test_defaults_keep_a_hung_endpoint_from_holding_a_caller_for_minutes():
    tier = TierConfig("premium")
    assert tier.total_timeout_s <= 30 and tier.pool_timeout_s <= 1
    assert DispatchConfig().default_deadline_s <= 60


def test_callers_beyond_a_pool_of_hung_calls_fall_back_at_once(stack):
    s = stack(premium={"max_concurrency": POOL, "pool_timeout_s": 0.1, "total_timeout_s": 1.0})
    s.premium.always(Fault.hang())
    # No deadline from the callers: the router's default applies.
    futures = [s.stub.Route.future(request(f"question {i}")) for i in range(CALLERS)]
    decisions = [f.result(timeout=30).decision for f in futures]

    assert all((d.tier, d.routed_tier, d.fell_back) == (SMALL, PREMIUM, True) for d in decisions)
    reasons = sorted(d.fallback_reason for d in decisions)
    pool_full = [r for r in reasons if "no free connection" in r]
    timed_out = [r for r in reasons if "timed out" in r]
    assert len(pool_full) == CALLERS - POOL and len(timed_out) == POOL, reasons
    assert len(s.premium.requests) == POOL, "only the pool's connections reached the hung endpoint"
    # Each premium attempt, hung or refused a connection, is a failure the breaker and counters saw.
    e = s.endpoint("premium")
    assert (e.requests, e.failures) == (CALLERS, CALLERS)
