"""shadow: the other tier's answer to a share of answered requests, asked in the background.

A shadowed request yields a pair (the served answer and the other tier's) that a judge can label,
so the router learns from the deployment's own traffic. Nothing here may touch the caller's answer:
the call starts after the answer is complete (for a stream, after its last delta), nobody awaits it
on the caller's path, and whatever happens to it ends in a record and a metric, never an error.

Breakers: a shadow call reads the tier's circuit (an open or half-open circuit drops it: the tier
is known to be failing, and a half-open circuit's single probe belongs to real traffic) but never
feeds it. A failing shadow tier is evidence, but a shadow call has its own (possibly shorter)
timeout and its own connections, so counting its failures could open a circuit that real traffic,
under its own deadlines, would have kept closed, and move callers to the fallback tier: a shadow
would then change callers' answers. Real calls keep the breaker honest on their own. For the same
reason shadow calls have their own connection pool (a hanging shadow tier cannot take the
connections callers need) and stay out of the tiers' GetStatus counters and dispatch metrics; their
cost is counted apart (orchestrouter.shadow.cost).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence

from opentelemetry import metrics

from orchestrouter.router.config import ShadowConfig
from orchestrouter.router.dispatch.accounting import priced_usage
from orchestrouter.router.dispatch.breaker import CircuitState
from orchestrouter.router.dispatch.endpoint import EndpointClient
from orchestrouter.router.dispatch.failures import UpstreamFailure
from orchestrouter.router.dispatch.tier import TierEndpoint
from orchestrouter.router.model import ChatTurn, GenerationParams, Usage
from orchestrouter.runtime import semconv
from orchestrouter.runtime.redaction import redact
from orchestrouter.runtime.throttled_log import describe
from orchestrouter.store import AnswerRecord

log = logging.getLogger(__name__)


class ShadowRouter:
    """ShadowRouter: samples answered requests at settings.rate and calls the other tier for them.

    rng gives uniform numbers in [0, 1) (injectable, so tests can sample exactly). ``outcomes``
    counts each sampled request's fate by the semconv outcome names, as the metric does.
    """

    def __init__(
        self,
        tiers: Mapping[str, TierEndpoint],
        settings: ShadowConfig,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.rng = rng
        self._tiers = tiers
        # Their own connections: at most max_concurrency per tier, each call bounded by the shadow timeout.
        self._clients = {
            name: EndpointClient(
                dataclasses.replace(
                    tier.config, max_concurrency=settings.max_concurrency, total_timeout_s=settings.timeout_s
                ),
                tier.client.key,
            )
            for name, tier in tiers.items()
            if tier.config.configured
        }
        self._in_flight: set[asyncio.Task[None]] = set()
        self.outcomes: collections.Counter[str] = collections.Counter()
        meter = metrics.get_meter(semconv.ROUTER_METER)
        self._calls = semconv.create_counter(meter, semconv.METRIC_SHADOW_CALLS)
        self._cost = semconv.create_counter(meter, semconv.METRIC_SHADOW_COST)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def sampled(self) -> bool:
        """Whether this request is shadowed: a fresh draw per request (none at rate 0)."""
        return self.settings.rate > 0 and self.rng() < self.settings.rate

    def launch(
        self,
        tier: str,
        messages: Sequence[ChatTurn],
        params: GenerationParams,
        done: Callable[[AnswerRecord], None],
    ) -> bool:
        """Starts the shadow call to tier and returns at once; done gets its answer (or failure) later.

        False (counted) when the call is dropped: tier unconfigured, its circuit not closed, or
        max_concurrency shadow calls already in flight; then done is never called.
        """
        endpoint = self._tiers[tier]
        if tier not in self._clients:
            return self._dropped(tier, semconv.SHADOW_DROPPED_NOT_CONFIGURED)
        if endpoint.breaker.state is not CircuitState.CLOSED:
            return self._dropped(tier, semconv.SHADOW_DROPPED_BREAKER)
        if len(self._in_flight) >= self.settings.max_concurrency:
            return self._dropped(tier, semconv.SHADOW_DROPPED_FULL)
        task = asyncio.get_running_loop().create_task(self._call(tier, messages, params, done), name=f"shadow-{tier}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return True

    async def _call(
        self, tier: str, messages: Sequence[ChatTurn], params: GenerationParams, done: Callable[[AnswerRecord], None]
    ) -> None:
        client = self._clients[tier]
        started = time.perf_counter()
        model, text, usage, error, outcome = client.config.model, "", Usage(), "", semconv.OUTCOME_OK
        try:
            answer = await client.complete(messages, params, self.settings.timeout_s)
            model, text, usage = answer.model or model, answer.text, priced_usage(answer.usage, client.config)
        except UpstreamFailure as failure:
            # The message may quote the endpoint's error body: masked before it is stored.
            outcome, error = failure.kind.value, redact(failure.message)
        except asyncio.CancelledError:
            outcome, error = semconv.SHADOW_CANCELLED, "the router shut down before the shadow call ended"
            raise
        except Exception as exc:  # noqa: BLE001 - a side path ends in a record, never in an error
            outcome, error = semconv.SHADOW_ERROR, describe(exc)
            log.warning("shadow call to the %s tier failed unexpectedly: %s", tier, error)
        finally:
            self._count(tier, outcome)
            self._cost.add(usage.cost_usd, {semconv.TIER: tier})
            done(
                AnswerRecord(
                    tier=tier,
                    model=model,
                    text=text,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cost_usd=usage.cost_usd,
                    shadow=True,
                    error=error,
                )
            )

    def _dropped(self, tier: str, reason: str) -> bool:
        self._count(tier, reason)
        return False

    def _count(self, tier: str, outcome: str) -> None:
        self.outcomes[outcome] += 1
        self._calls.add(1, {semconv.TIER: tier, semconv.OUTCOME: outcome})

    async def close(self) -> None:
        """Cancels the shadow calls still in flight (each still reports, as cancelled), then closes the connections."""
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self._clients.values():
            await client.close()
