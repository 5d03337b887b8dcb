"""TierEndpoint: one tier's calls with retries, its circuit breaker, counters and a span per call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from orchestrouter.router.config import TierConfig
from orchestrouter.router.dispatch import failures, instruments
from orchestrouter.router.dispatch.accounting import TierCounters, priced_usage
from orchestrouter.router.dispatch.breaker import CircuitBreaker, Permit
from orchestrouter.router.dispatch.endpoint import ChunkStream, EndpointClient
from orchestrouter.router.dispatch.failures import NEUTRAL_FOR_BREAKER, FailureKind, UpstreamFailure
from orchestrouter.router.dispatch.retry import RetryPolicy
from orchestrouter.router.model import ChatTurn, Completion, GenerationParams, StreamDelta
from orchestrouter.router.openai_format import ChatChunk, TokenUsage
from orchestrouter.runtime import semconv
from orchestrouter.runtime.redaction import redact

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class CallCount:
    """CallCount: endpoint calls made for one request, across retries and tiers."""

    calls: int = 0


class TierEndpoint:
    """TierEndpoint: calls one tier until it answers, the retry policy gives up, or time runs out.

    `until` (a time.monotonic() instant) is the end of the time this tier may use; each call is
    also bounded by the tier's own timeouts. Every call gets a span and feeds the breaker.
    """

    def __init__(self, config: TierConfig, client: EndpointClient, breaker: CircuitBreaker, retry: RetryPolicy) -> None:
        self.config = config
        self.client = client
        self.breaker = breaker
        self.retry = retry
        self.counters = TierCounters()
        instruments.watch_circuit(breaker)

    @property
    def name(self) -> str:
        return self.config.tier

    async def complete(
        self, messages: Sequence[ChatTurn], params: GenerationParams, until: float, count: CallCount
    ) -> Completion:
        """The tier's whole answer, in one JSON response per call."""

        async def call(permit: Permit, span: Span, timeout_s: float) -> Completion:
            with _current(span):
                answer = await self.client.complete(messages, params, timeout_s)
            usage = priced_usage(answer.usage, self.config)
            self._succeeded(permit, span, usage)
            span.end()
            return Completion(
                text=answer.text,
                finish_reason=answer.finish_reason,
                usage=usage,
                model=answer.model,
                tool_calls=answer.tool_calls,
                logprobs=answer.logprobs,
            )

        return await self._with_retries(until, count, False, call)

    async def start_stream(
        self, messages: Sequence[ChatTurn], params: GenerationParams, until: float, count: CallCount
    ) -> LiveStream:
        """Opens a streamed call and reads up to its first token, retrying like complete()."""

        async def call(permit: Permit, span: Span, timeout_s: float) -> LiveStream:
            started = time.monotonic()
            # Current only while the request goes out, so the HTTP client span nests under it;
            # never across a yield to the caller.
            with _current(span):
                stream = await self.client.open_stream(messages, params, timeout_s)
            try:
                first = await self._first_chunks(stream, started + timeout_s, timeout_s)
            except BaseException:
                await stream.aclose()
                raise
            return LiveStream(self, stream, permit, span, first, started)

        return await self._with_retries(until, count, True, call)

    async def _with_retries(
        self, until: float, count: CallCount, stream: bool, call: Callable[[Permit, Span, float], Awaitable[T]]
    ) -> T:
        """Makes calls until one succeeds or the retry policy gives up; each gets a permit, a span and a timeout.

        A call that succeeds owns its span (ends it, or hands it to the stream it returns); a failed
        one is recorded here: counters, breaker, span status, and the attempts metric.
        """
        # A streamed call here lasts until its first token; the LiveStream bounds the rest.
        per_call_s = self.config.total_timeout_s
        if stream:
            per_call_s = min(self.config.first_token_timeout_s, per_call_s)
        retries = 0
        while True:
            permit, timeout_s = self._begin(until, per_call_s)
            count.calls += 1
            span = instruments.tracer.start_span(
                semconv.SPAN_DISPATCH_ATTEMPT, attributes=self._span_attributes(count, stream)
            )
            try:
                return await call(permit, span, timeout_s)
            except UpstreamFailure as failure:
                self._failed(permit, failure, span)
                span.end()
                delay = self.retry.delay_before_retry(failure, retries, until - time.monotonic())
                if delay is None:
                    raise
                why = failure.message
            except BaseException:
                self.breaker.on_neutral(permit)
                span.end()
                raise
            log.info(
                "%s call %d failed%s (%s); retrying in %.3fs",
                self.name,
                count.calls,
                " before its first token" if stream else "",
                why,
                delay,
            )
            retries += 1
            await asyncio.sleep(delay)

    async def _first_chunks(self, stream: ChunkStream, by: float, timeout_s: float) -> list[ChatChunk]:
        """Chunks up to and including the first with any of the answer (role-only ones carry none)."""
        chunks: list[ChatChunk] = []
        while True:
            try:
                chunk = await stream.next_chunk(by - time.monotonic())
            except UpstreamFailure as failure:
                if failure.kind is not FailureKind.TIMEOUT:
                    raise
                raise UpstreamFailure(
                    FailureKind.TIMEOUT, self.name, f"{self.name} endpoint sent no first token within {timeout_s:.2f}s"
                ) from None
            if chunk is None:
                raise UpstreamFailure(
                    FailureKind.STREAM_CUT, self.name, f"{self.name} endpoint ended the stream before its first token"
                )
            chunks.append(chunk)
            if chunk.starts_answer:
                return chunks

    def _begin(self, until: float, per_call_s: float) -> tuple[Permit, float]:
        permit = self.breaker.acquire()
        if permit is None:
            raise failures.circuit_open(self.name)
        timeout_s = min(per_call_s, until - time.monotonic())
        if timeout_s <= 0:
            self.breaker.on_neutral(permit)
            raise UpstreamFailure(FailureKind.TIMEOUT, self.name, f"no time was left to call the {self.name} endpoint")
        self.counters.requests += 1
        return permit, timeout_s

    def _span_attributes(self, count: CallCount, stream: bool) -> dict:
        return {
            semconv.TIER: self.name,
            semconv.MODEL: self.config.model,
            semconv.ATTEMPT: count.calls,
            semconv.STREAM: stream,
        }

    def _failed(self, permit: Permit, failure: UpstreamFailure, span: Span) -> None:
        self.counters.failures += 1
        if failure.kind in NEUTRAL_FOR_BREAKER:
            self.breaker.on_neutral(permit)
        else:
            self.breaker.on_failure(permit)
        span.set_attribute(semconv.OUTCOME, failure.kind.value)
        # The message may quote the endpoint's error body: masked before the span records it.
        span.set_status(Status(StatusCode.ERROR, redact(failure.message)))
        instruments.attempts.add(1, {semconv.TIER: self.name, semconv.OUTCOME: failure.kind.value})

    def _succeeded(self, permit: Permit, span: Span, usage) -> None:
        self.breaker.on_success(permit)
        self.counters.add_usage(usage)
        span.set_attribute(semconv.OUTCOME, semconv.OUTCOME_OK)
        instruments.attempts.add(1, {semconv.TIER: self.name, semconv.OUTCOME: semconv.OUTCOME_OK})
        instruments.tokens.add(
            usage.prompt_tokens, {semconv.TIER: self.name, semconv.TOKEN_KIND: semconv.TOKEN_KIND_INPUT}
        )
        instruments.tokens.add(
            usage.completion_tokens, {semconv.TIER: self.name, semconv.TOKEN_KIND: semconv.TOKEN_KIND_OUTPUT}
        )
        instruments.cost.add(usage.cost_usd, {semconv.TIER: self.name})

    async def close(self) -> None:
        await self.client.close()


def _current(span: Span) -> contextlib.AbstractContextManager[object]:
    """span made current, so the HTTP client span nests under it; nothing to do when tracing is off."""
    return trace.use_span(span) if span.get_span_context().is_valid else contextlib.nullcontext()


class LiveStream:
    """LiveStream: a streamed answer whose first token has arrived; no fallback is possible any more.

    Iterate for the deltas; `completion` holds finish reason and usage once it ended well.
    A failure from here on is a cut stream: UpstreamFailure(STREAM_CUT), never a quiet end.
    """

    def __init__(
        self,
        tier: TierEndpoint,
        stream: ChunkStream,
        permit: Permit,
        span: Span,
        first: list[ChatChunk],
        started: float,
    ) -> None:
        self.tier = tier
        self._stream = stream
        self._permit = permit
        self._span = span
        self._pending = first
        self._ends_by = started + tier.config.total_timeout_s
        self._finish_reason = ""
        self._usage: TokenUsage | None = None
        self._sent_chars = 0
        self._outcome_recorded = False
        self._closed = False
        self.completion: Completion | None = None

    async def deltas(self, deadline: float) -> AsyncGenerator[StreamDelta, None]:
        """Yields the answer's deltas until it is complete; deadline is the request's, a monotonic instant."""
        tier = self.tier
        ends_by = min(self._ends_by, deadline)
        gap_s = tier.config.first_token_timeout_s
        try:
            while True:
                chunk = self._pending.pop(0) if self._pending else await self._next(ends_by, gap_s)
                if chunk is None:
                    break
                if chunk.usage is not None:
                    self._usage = chunk.usage
                if chunk.finish_reason:
                    self._finish_reason = chunk.finish_reason
                if not chunk.delta.empty:
                    self._sent_chars += len(chunk.delta.text) + sum(len(d.arguments) for d in chunk.delta.tool_calls)
                    yield chunk.delta
            if not (self._finish_reason or self._stream.done):
                raise self._cut(f"{tier.name} endpoint ended the stream without finishing the answer")
            usage = priced_usage(self._usage, tier.config)
            self._outcome_recorded = True
            tier._succeeded(self._permit, self._span, usage)
            self.completion = Completion(
                text="", finish_reason=self._finish_reason, usage=usage, model=tier.config.model
            )
        except UpstreamFailure as failure:
            self._outcome_recorded = True
            tier._failed(self._permit, failure, self._span)
            raise
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Releases the connection; a stream left before its end (caller gone) counts as neutral."""
        if self._closed:
            return
        self._closed = True
        if not self._outcome_recorded:
            self.tier.breaker.on_neutral(self._permit)
        self._span.end()
        await self._stream.aclose()

    async def _next(self, ends_by: float, gap_s: float) -> ChatChunk | None:
        try:
            return await self._stream.next_chunk(min(gap_s, ends_by - time.monotonic()))
        except UpstreamFailure as failure:
            raise self._cut(failure.message) from None

    def _cut(self, why: str) -> UpstreamFailure:
        return UpstreamFailure(
            FailureKind.STREAM_CUT,
            self.tier.name,
            f"the answer is incomplete: {why} after {self._sent_chars} characters",
        )
