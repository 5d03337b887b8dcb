"""RouterCore: embed, score, decide, dispatch — the router's data plane, free of gRPC."""

from __future__ import annotations

import logging
import time
import uuid

from router_service.dispatch import Dispatcher
from router_service.embedders import Embedder
from router_service.model import Decision, RouteInput, RouteResult, Timings
from router_service.policy import ThresholdPolicy
from router_service.runtime.errors import DeadlineExceeded
from router_service.scorer_client import ScorerClient, ScorerUnavailable

log = logging.getLogger(__name__)


class RouterCore:
    """RouterCore: turns a validated RouteInput into a RouteResult."""

    def __init__(self, embedder: Embedder, scorer: ScorerClient, dispatcher: Dispatcher,
                 policy: ThresholdPolicy, degraded_tier: str) -> None:
        self.embedder = embedder
        self.scorer = scorer
        self.dispatcher = dispatcher
        self.policy = policy
        self.degraded_tier = degraded_tier
        self.router_id = ""
        self.router_version = ""
        self.degraded_count = 0

    async def decide(self, inp: RouteInput, timings: Timings, budget_s: float | None) -> Decision:
        threshold = self.policy.resolve(inp.threshold, inp.premium_share)
        start = time.perf_counter()
        embedding = self.embedder.embed([inp.query])
        scored = time.perf_counter()
        timings.embed_ms = (scored - start) * 1000
        try:
            scores = await self.scorer.score(embedding, timeout_s=budget_s)
        except ScorerUnavailable as exc:
            timings.score_ms = (time.perf_counter() - scored) * 1000
            self.degraded_count += 1
            log.warning("scorer unavailable, routing to %s: %s", self.degraded_tier, exc)
            return Decision(tier=self.degraded_tier, model=self.dispatcher.model_name(self.degraded_tier),
                            win_probability=0.0, threshold=threshold, router_id=self.router_id,
                            router_version=self.router_version, degraded=True, degraded_reason=str(exc),
                            routed_tier=self.degraded_tier)
        timings.score_ms = (time.perf_counter() - scored) * 1000
        p = float(scores.win_probabilities[0])
        tier = self.policy.tier_for(p, threshold)
        return Decision(tier=tier, model=self.dispatcher.model_name(tier), win_probability=p,
                        threshold=threshold, router_id=scores.router_id,
                        router_version=scores.router_version, routed_tier=tier)

    async def route(self, inp: RouteInput, deadline: float | None = None) -> RouteResult:
        """deadline is a time.monotonic() instant from the caller's gRPC deadline, or None."""
        start = time.perf_counter()
        timings = Timings()
        decision = await self.decide(inp, timings, _remaining(deadline))
        result = RouteResult(decision=decision, timings=timings, request_id=uuid.uuid4().hex)
        if not inp.dry_run:
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                raise DeadlineExceeded("deadline exceeded before dispatch")
            dispatch_start = time.perf_counter()
            decision.attempts = 1
            completion = await self.dispatcher.complete(decision.tier, inp.messages, inp.params,
                                                        remaining if remaining is not None else 600.0)
            timings.dispatch_ms = (time.perf_counter() - dispatch_start) * 1000
            result.answer = completion.text
            result.finish_reason = completion.finish_reason
            result.usage = completion.usage
        timings.total_ms = (time.perf_counter() - start) * 1000
        return result


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()
