"""RouterCore: embed, score, decide, dispatch — the router's data plane, free of gRPC."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass

from opentelemetry import trace

from orchestrouter.router.caller_policy import CallerPolicy
from orchestrouter.router.dispatch.dispatcher import Dispatcher, DispatchInfo, EndpointSnapshot
from orchestrouter.router.embedders import Embedder, EmbedderError
from orchestrouter.router.model import (
    PREMIUM,
    SMALL,
    Completion,
    Decision,
    RouteInput,
    RouteResult,
    StreamDecision,
    StreamDelta,
    StreamDone,
    StreamEvent,
    Timings,
)
from orchestrouter.router.model_refresh import ModelRefresh
from orchestrouter.router.policy import ThresholdPolicy
from orchestrouter.router.route_observer import RouteObserver
from orchestrouter.router.scorer_client import Scorer, ScorerUnavailable, Scores
from orchestrouter.router.traffic import AnsweredTraffic
from orchestrouter.runtime import semconv, telemetry
from orchestrouter.runtime.errors import DeadlineExceeded

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class RouterStatus:
    """RouterStatus: what GetStatus reports: the dial, the router model, each endpoint, and the counters."""

    threshold: float
    router_id: str
    router_version: str
    endpoints: tuple[EndpointSnapshot, ...]
    fallbacks: int
    degraded: int


class RouterCore:
    """RouterCore: turns a validated RouteInput into a RouteResult, or into a stream of events.

    threshold and premium_share are the configured dial; a premium share needs the router model's
    calibration table, so until use_model() tells the core which model the scorer serves, the
    threshold alone decides.
    """

    def __init__(
        self,
        embedder: Embedder,
        scorer: Scorer,
        dispatcher: Dispatcher,
        threshold: float,
        premium_share: float | None,
        degraded_tier: str,
        observer: RouteObserver | None = None,
        caller_policy: CallerPolicy | None = None,
        traffic: AnsweredTraffic | None = None,
    ) -> None:
        self.embedder = embedder
        self.scorer = scorer
        self.dispatcher = dispatcher
        self._threshold = threshold
        self._premium_share = premium_share
        self.policy = ThresholdPolicy(threshold)
        self.degraded_tier = degraded_tier
        self.router_id = ""
        self.router_version = ""
        self.degraded_count = 0
        self.observer = observer or RouteObserver()
        # Who may set the dial, and each caller's premium budget (router.caller_policy).
        self.caller_policy = caller_policy or CallerPolicy()
        # Shadow calls and the traffic store's records, after each answer (router.traffic).
        self.traffic = traffic or AnsweredTraffic(None, None)
        # Follows the scorer to a hot-reloaded model (set by the server once it has the model info).
        self.model_refresh: ModelRefresh | None = None

    def use_model(self, router_id: str, router_version: str, calibration_quantiles: Sequence[float]) -> None:
        """Takes the scorer's router model: its name for degraded decisions, its calibration for the dial."""
        self.router_id, self.router_version = router_id, router_version
        self.policy = ThresholdPolicy(self._threshold, self._premium_share, tuple(calibration_quantiles))

    def status(self) -> RouterStatus:
        """A snapshot of the dial, the model, the endpoints and the counters, for GetStatus."""
        return RouterStatus(
            threshold=self.policy.default_threshold,
            router_id=self.router_id,
            router_version=self.router_version,
            endpoints=tuple(self.dispatcher.status()),
            fallbacks=self.dispatcher.fallbacks,
            degraded=self.degraded_count,
        )

    async def _score(self, inp: RouteInput, timings: Timings, budget_s: float | None) -> Scores:
        start = time.perf_counter()
        try:
            if telemetry.in_trace():
                with tracer.start_as_current_span(
                    semconv.SPAN_ROUTER_EMBED,
                    attributes={semconv.EMBEDDER: self.embedder.name, semconv.PROMPT_CHARS: len(inp.query)},
                ):
                    embedding = await self.embedder.embed_async([inp.query])
            else:  # no span to make: a no-op span still costs its context switch
                embedding = await self.embedder.embed_async([inp.query])
        finally:
            timings.embed_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        try:
            return await self.scorer.score(embedding, timeout_s=budget_s)
        finally:
            timings.score_ms = (time.perf_counter() - start) * 1000

    async def decide(self, inp: RouteInput, timings: Timings, budget_s: float | None) -> Decision:
        threshold = self.policy.resolve(inp.threshold, inp.premium_share)
        started = time.monotonic()
        try:
            scores = await self._score(inp, timings, budget_s)
        except (EmbedderError, ScorerUnavailable) as exc:
            if budget_s is not None and time.monotonic() - started >= budget_s:
                # The caller's own deadline ran out, not the scorer: no decision to degrade to.
                raise DeadlineExceeded("deadline exceeded while scoring") from exc
            self.degraded_count += 1
            log.warning("cannot score, routing to %s: %s", self.degraded_tier, exc)
            return Decision(
                tier=self.degraded_tier,
                model=self.dispatcher.model_name(self.degraded_tier),
                win_probability=0.0,
                threshold=threshold,
                router_id=self.router_id,
                router_version=self.router_version,
                degraded=True,
                degraded_reason=str(exc),
                routed_tier=self.degraded_tier,
            )
        if self.model_refresh is not None:
            self.model_refresh.version_seen(scores.router_version, self.router_version)
        p = float(scores.win_probabilities[0])
        tier = self.policy.tier_for(p, threshold)
        return Decision(
            tier=tier,
            model=self.dispatcher.model_name(tier),
            win_probability=p,
            threshold=threshold,
            router_id=scores.router_id,
            router_version=scores.router_version,
            routed_tier=tier,
        )

    async def route(self, inp: RouteInput, deadline: float | None = None) -> RouteResult:
        """The decision and, unless dry run, the whole answer, asked of the endpoint in one JSON call.

        deadline is a time.monotonic() instant from the caller's gRPC deadline, or None.
        """
        events = [event async for event in self._route(inp, deadline, stream=False)]
        done = events[-1]
        assert isinstance(done, StreamDone), "a route ends with StreamDone or raises"
        return done.result

    def route_stream(self, inp: RouteInput, deadline: float | None = None) -> AsyncGenerator[StreamEvent, None]:
        """route() with the answer streamed: the decision once a tier answers, text deltas, then the result."""
        return self._route(inp, deadline, stream=True)

    async def _route(self, inp: RouteInput, deadline: float | None, stream: bool) -> AsyncGenerator[StreamEvent, None]:
        """Decides, dispatches (streamed or in one call) and reports the request to the observer exactly once.

        Yields StreamDecision once a tier answers (at once for a dry run), a StreamDelta per piece of
        streamed text, then StreamDone; a unary answer's text is on the result instead.
        """
        start = time.perf_counter()
        timings = Timings()
        decision: Decision | None = None
        # A streamed answer's text goes out as deltas; it is gathered only when a record will keep it.
        pieces: list[str] | None = [] if stream and self.traffic.keeps_text else None
        try:
            self.caller_policy.check_dial(inp.caller, inp.sets_dial)
            decision = await self.decide(inp, timings, _remaining(deadline))
            if inp.pinned_tier:
                _pin(decision, inp.pinned_tier, self.dispatcher.model_name(inp.pinned_tier))
            self._apply_budget(inp, decision)
            result = RouteResult(decision=decision, timings=timings, request_id=self.observer.new_request_id())
            if inp.dry_run:
                yield StreamDecision(decision, result.request_id)
            else:
                _raise_if_expired(deadline)
                dispatch_start = time.perf_counter()
                try:
                    async for item in self._dispatch(decision.routed_tier, inp, deadline, stream):
                        if isinstance(item, DispatchInfo):
                            _apply_dispatch(decision, item)
                            yield StreamDecision(decision, result.request_id)
                        elif isinstance(item, Completion):
                            # A streamed Completion's text and tool calls went out as deltas.
                            result.answer = item.text
                            result.tool_calls = item.tool_calls
                            result.logprobs = item.logprobs
                            result.finish_reason = item.finish_reason
                            result.usage = item.usage
                        else:
                            if pieces is not None:
                                pieces.append(item.text)
                            yield item
                finally:
                    timings.dispatch_ms = (time.perf_counter() - dispatch_start) * 1000
        except BaseException as exc:  # recorded, then re-raised: cancellation and a closed stream included
            timings.total_ms = (time.perf_counter() - start) * 1000
            # GeneratorExit: the caller went away mid-stream, which the observer knows as a cancellation.
            self.observer.failed(
                inp, decision, timings, asyncio.CancelledError() if isinstance(exc, GeneratorExit) else exc
            )
            raise
        timings.total_ms = (time.perf_counter() - start) * 1000
        if decision.tier == PREMIUM:
            self.caller_policy.budget.spend(inp.caller, result.usage.cost_usd)
        self.observer.finished(inp, result)
        if not inp.dry_run:
            # The caller has the whole answer (a stream: every delta); this only starts side paths.
            self.traffic.answered(inp, result, result.answer if pieces is None else "".join(pieces))
        yield StreamDone(result)

    def _apply_budget(self, inp: RouteInput, decision: Decision) -> None:
        """Routes small, flagged, a request the caller's premium budget has no room for (a dry run
        is told so but spends nothing)."""
        if decision.routed_tier != PREMIUM:
            return
        reason = self.caller_policy.premium_refusal(inp.caller, count=not inp.dry_run)
        if reason:
            decision.tier = decision.routed_tier = SMALL
            decision.model = self.dispatcher.model_name(SMALL)
            decision.budget_limited, decision.budget_reason = True, reason

    def _dispatch(
        self, tier: str, inp: RouteInput, deadline: float | None, stream: bool
    ) -> AsyncIterator[DispatchInfo | StreamDelta | Completion]:
        if stream:
            return self.dispatcher.stream(tier, inp.messages, inp.params, deadline)
        return _answered_at_once(self.dispatcher.complete(tier, inp.messages, inp.params, deadline))


async def _answered_at_once(
    answer: Awaitable[tuple[Completion, DispatchInfo]],
) -> AsyncIterator[DispatchInfo | Completion]:
    """A unary answer as the dispatch events a stream gives: who answered, then the Completion (with its text)."""
    completion, info = await answer
    yield info
    yield completion


def _pin(decision: Decision, tier: str, model: str) -> None:
    """Routes to the tier the caller pinned; the score stays on the decision for the log (what the
    router would have chosen), and so does a degraded flag (no score)."""
    decision.tier = decision.routed_tier = tier
    decision.model = model


def _apply_dispatch(decision: Decision, info: DispatchInfo) -> None:
    """Records on the decision which tier answered, after how many calls, and any fallback."""
    decision.tier = info.tier
    decision.model = info.model
    decision.attempts = info.attempts
    decision.fell_back = info.fell_back
    decision.fallback_reason = info.fallback_reason


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _raise_if_expired(deadline: float | None) -> None:
    remaining = _remaining(deadline)
    if remaining is not None and remaining <= 0:
        raise DeadlineExceeded("deadline exceeded before dispatch")
