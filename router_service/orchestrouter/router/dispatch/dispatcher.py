"""Dispatcher: sends a routed request to its tier and falls back to the other one when it fails."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from orchestrouter.router.config import FALLBACK_POLICIES, DispatchConfig, RouterConfig, TierConfig
from orchestrouter.router.dispatch import failures, instruments
from orchestrouter.router.dispatch.api_key import ApiKeySource
from orchestrouter.router.dispatch.breaker import BreakerSettings, CircuitBreaker, CircuitState
from orchestrouter.router.dispatch.endpoint import EndpointClient
from orchestrouter.router.dispatch.failures import FailureKind, UpstreamFailure
from orchestrouter.router.dispatch.retry import RetryPolicy
from orchestrouter.router.dispatch.tier import CallCount, TierEndpoint
from orchestrouter.router.model import PREMIUM, SMALL, ChatTurn, Completion, GenerationParams, StreamDelta
from orchestrouter.runtime import semconv

log = logging.getLogger(__name__)

T = TypeVar("T")

# Which tiers each ORCHESTROUTER_FALLBACK policy lets a failed tier hand its request to.
_FALLBACK_TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "both": {SMALL: (PREMIUM,), PREMIUM: (SMALL,)},
    "to-premium": {SMALL: (PREMIUM,), PREMIUM: ()},
    "to-small": {SMALL: (), PREMIUM: (SMALL,)},
    "none": {SMALL: (), PREMIUM: ()},
}
assert set(_FALLBACK_TARGETS) == set(FALLBACK_POLICIES)


@dataclass
class DispatchInfo:
    """DispatchInfo: which tier answered, after how many calls, and whether (and why) it fell back."""

    tier: str
    model: str
    attempts: int
    fell_back: bool = False
    fallback_reason: str = ""


@dataclass(frozen=True)
class EndpointSnapshot:
    """EndpointSnapshot: one tier's endpoint state and counters, for GetStatus."""

    tier: str
    model: str
    configured: bool
    circuit: CircuitState
    requests: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class Dispatcher:
    """Dispatcher: the tiers' endpoints and the fallback policy between them.

    The request's deadline bounds everything. While a fallback tier is still available, the
    routed tier may use only (1 - fallback_reserve) of the time left, so the fallback has time
    to answer; the last tier tried may use all of it. A caller sees an upstream failure only
    when every tier it could use failed.
    """

    def __init__(self, tiers: dict[str, TierEndpoint], fallback: str, settings: DispatchConfig) -> None:
        self.tiers = tiers
        self.fallback = fallback
        self.settings = settings
        self.fallbacks = 0

    @classmethod
    def from_config(cls, config: RouterConfig) -> Dispatcher:
        s = config.dispatch
        tiers = {
            name: build_tier(config.tier(name), s.retry, s.breaker, s.api_key_recheck_s) for name in (SMALL, PREMIUM)
        }
        return cls(tiers, config.fallback, s)

    def model_name(self, tier: str) -> str:
        return self.tiers[tier].config.model

    def plan(self, routed: str) -> list[TierEndpoint]:
        """The tiers to try, in order: the routed one, then those the fallback policy allows."""
        return [self.tiers[routed], *(self.tiers[t] for t in _FALLBACK_TARGETS[self.fallback][routed])]

    async def complete(
        self, routed: str, messages: Sequence[ChatTurn], params: GenerationParams, deadline: float | None
    ) -> tuple[Completion, DispatchInfo]:
        """The answer of the routed tier or, failing that, a fallback tier. deadline: monotonic, or None."""
        count = CallCount()
        return await self._first_answer(
            routed, self._deadline(deadline), lambda tier, until: tier.complete(messages, params, until, count), count
        )

    async def stream(
        self, routed: str, messages: Sequence[ChatTurn], params: GenerationParams, deadline: float | None
    ) -> AsyncIterator[DispatchInfo | StreamDelta | Completion]:
        """Yields DispatchInfo once a tier has sent its first token, then the deltas, then the Completion.

        Fallback happens only before the first token; a failure after it raises Unavailable,
        so a cut answer never looks complete.
        """
        deadline = self._deadline(deadline)
        count = CallCount()
        live, info = await self._first_answer(
            routed, deadline, lambda tier, until: tier.start_stream(messages, params, until, count), count
        )
        try:
            yield info
            async with contextlib.aclosing(live.deltas(deadline)) as deltas:
                async for delta in deltas:
                    yield delta
        except UpstreamFailure as failure:
            log.warning("%s stream cut: %s", live.tier.name, failure)
            raise failures.to_service_error([failure]) from None
        finally:
            await live.aclose()
        if live.completion is not None:
            yield live.completion

    async def _first_answer(
        self,
        routed: str,
        deadline: float,
        call: Callable[[TierEndpoint, float], Awaitable[T]],
        count: CallCount,
    ) -> tuple[T, DispatchInfo]:
        """What call(tier, until) returns for the first tier of the plan that answers, and how it came about.

        Raises the service error of every tier's failure when none answers, or at once when the
        endpoint rejected the request itself (failures.ENDS_FALLBACK).
        """
        failed: list[UpstreamFailure] = []
        plan = self.plan(routed)
        for i, tier in enumerate(plan):
            until = self._tier_until(plan, i, deadline, failed)
            if until is None:
                continue
            try:
                answer = await call(tier, until)
            except UpstreamFailure as failure:
                if failure.kind in failures.ENDS_FALLBACK:
                    failed.append(failure)
                    break
                failed.append(self._note_failure(failure, plan, i))
                continue
            return answer, self._answered(routed, tier, count, failed)
        raise failures.to_service_error(failed)

    def _deadline(self, deadline: float | None) -> float:
        return time.monotonic() + self.settings.default_deadline_s if deadline is None else deadline

    def _tier_until(
        self, plan: list[TierEndpoint], i: int, deadline: float, failed: list[UpstreamFailure]
    ) -> float | None:
        """When plan[i] must be done by, or None (with its failure noted) when it cannot be tried."""
        tier = plan[i]
        if not tier.config.configured:
            failed.append(failures.not_configured(tier.name))
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            failed.append(
                UpstreamFailure(
                    FailureKind.TIMEOUT, tier.name, f"the deadline passed before the {tier.name} tier was tried"
                )
            )
            return None
        later_usable = any(t.config.configured and t.breaker.state is not CircuitState.OPEN for t in plan[i + 1 :])
        return deadline - left * self.settings.fallback_reserve if later_usable else deadline

    def _note_failure(self, failure: UpstreamFailure, plan: list[TierEndpoint], i: int) -> UpstreamFailure:
        if i + 1 < len(plan):
            log.warning("%s; falling back to %s", failure, plan[i + 1].name)
        return failure

    def _answered(
        self, routed: str, tier: TierEndpoint, count: CallCount, failed: list[UpstreamFailure]
    ) -> DispatchInfo:
        info = DispatchInfo(tier=tier.name, model=tier.config.model, attempts=count.calls)
        if tier.name != routed:
            info.fell_back = True
            info.fallback_reason = "; ".join(f.message for f in failed)
            self.fallbacks += 1
            reason = next((f.kind.value for f in failed if f.tier == routed), "unknown")
            instruments.fallbacks.add(
                1,
                {semconv.FROM_TIER: routed, semconv.TO_TIER: tier.name, semconv.REASON: reason},
            )
        return info

    def status(self) -> list[EndpointSnapshot]:
        return [
            EndpointSnapshot(
                tier=t.name,
                model=t.config.model,
                configured=t.config.configured,
                circuit=t.breaker.state,
                requests=t.counters.requests,
                failures=t.counters.failures,
                prompt_tokens=t.counters.prompt_tokens,
                completion_tokens=t.counters.completion_tokens,
                cost_usd=t.counters.cost_usd,
            )
            for t in self.tiers.values()
        ]

    async def close(self) -> None:
        for tier in self.tiers.values():
            await tier.close()


def build_tier(config: TierConfig, retry: RetryPolicy, breaker: BreakerSettings, key_recheck_s: float) -> TierEndpoint:
    key = ApiKeySource(
        config.api_key, config.api_key_file, f"ORCHESTROUTER_{config.tier.upper()}_API_KEY_FILE", key_recheck_s
    )
    return TierEndpoint(config, EndpointClient(config, key), CircuitBreaker(config.tier, breaker), retry)
