"""Load: 1,000 Route requests at concurrency 100 through a real router and scorer while premium fails 30% of calls.

Every request is routed to premium. The premium fake fails calls 0, 3, 6 of every ten (exactly
30%; a 500, a 503 and a connection reset in turn). Nothing may be lost: each request is answered
by some tier, and with retries off every injected failure is exactly one fallback. With the
default two retries, every injected failure is either a retry or (when all three calls failed)
a fallback. Run with -s to see the figures. The full run under every fault at once (10,000 requests
at concurrency 200, the scorer killed, hangs, a full disk) is `make faults`.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from grpc import aio

from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.dispatch_stack import with_dispatch
from tests.support.fake_openai import OK, Fault
from tests.support.pair import request

REQUESTS = 1000
CONCURRENCY = 100
FAILING = {0: Fault.status_code(500), 3: Fault.status_code(503), 6: Fault.reset(after_deltas=0)}


def thirty_percent(call_index: int) -> Fault:
    return FAILING.get(call_index % 10, OK)


async def drive(port: int) -> tuple[list, list, list[float], float]:
    """Sends REQUESTS Route calls, CONCURRENCY at a time; returns replies, errors, latencies, seconds."""
    replies, errors, latencies = [], [], []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(REQUESTS):
        queue.put_nowait(i)
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                start = time.perf_counter()
                try:
                    replies.append(await stub.Route(request(f"request {i}: what is six times seven?"), timeout=30))
                except aio.AioRpcError as exc:
                    errors.append(f"{exc.code().name}: {exc.details()}")
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return replies, errors, latencies, time.perf_counter() - start


@pytest.mark.parametrize("max_retries", [0, 2])
def test_no_request_is_lost_while_premium_fails_30_percent(stack, loop_thread, max_retries):
    # Router, scorer, fakes and client share one event loop here, so queueing delays reach the
    # scorer call too; its timeout is raised so no request is routed degraded (not what this tests).
    s = stack(
        dispatch=with_dispatch(max_retries),
        scorer_timeout_ms=30000,
        premium={"max_concurrency": CONCURRENCY},
        small={"max_concurrency": CONCURRENCY},
        fake_premium={"schedule": thirty_percent},
    )
    replies, errors, latencies, seconds = loop_thread.run(drive(s.router.port), timeout=300)

    fell_back = [r for r in replies if r.decision.fell_back]
    injected = s.premium.injected_failures
    retries = s.premium.calls - REQUESTS
    status = s.status()
    premium = s.endpoint("premium")
    ms = np.asarray(latencies) * 1000
    print(
        f"\nload (max_retries={max_retries}): {REQUESTS} Route requests at concurrency {CONCURRENCY} "
        f"in {seconds:.1f}s ({REQUESTS / seconds:.0f}/s); answered {len(replies)}, lost {len(errors)}; "
        f"premium calls {s.premium.calls}, injected failures {injected} "
        f"({injected / s.premium.calls:.1%}), retries {retries}, fallbacks {len(fell_back)}, "
        f"small calls {s.small.calls}; latency p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms"
    )

    assert errors == [] and len(replies) == REQUESTS
    assert injected == sum(1 for i in range(s.premium.calls) if i % 10 in FAILING)
    for r in replies:
        d = r.decision
        assert d.routed_tier == router_pb2.TIER_PREMIUM and not d.degraded
        answered_by = s.small if d.fell_back else s.premium
        assert d.tier == (router_pb2.TIER_SMALL if d.fell_back else router_pb2.TIER_PREMIUM)
        assert r.answer == answered_by.answer_text() and r.usage.completion_tokens == 5
    if max_retries == 0:
        assert len(fell_back) == injected == REQUESTS * 3 // 10
    else:
        # Each injected failure was answered by one retry or, after the last retry, one fallback.
        assert injected == retries + len(fell_back)
        assert all(r.decision.attempts == max_retries + 2 for r in fell_back)
    assert status.fallbacks == len(fell_back) == s.small.calls
    assert (premium.requests, premium.failures) == (s.premium.calls, injected)
    # A 30% failure rate is not an outage: the circuit must have stayed closed throughout.
    assert s.router.core.dispatcher.tiers["premium"].breaker.times_opened == 0
    assert premium.circuit == router_pb2.CIRCUIT_STATE_CLOSED
    assert not any("circuit" in r.decision.fallback_reason for r in fell_back)
