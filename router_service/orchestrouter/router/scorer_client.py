"""The router's side of the Score RPC."""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc
import numpy as np
from grpc import aio
from opentelemetry import trace

from orchestrouter.router.score_stream import ScoreStreamClient, StreamEnded, StreamUnsupported
from orchestrouter.runtime import semconv, telemetry
from orchestrouter.runtime.serving import MAX_MESSAGE_BYTES
from orchestrouter.runtime.tls import ChannelTLSConfig, open_channel
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

_tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class Scores:
    """Scores: win probabilities and the model that produced them."""

    win_probabilities: np.ndarray
    router_id: str
    router_version: str


class ScorerUnavailable(Exception):
    """The scorer could not score (down, timed out, or refused); the router degrades."""


def reply_problem(probabilities: Sequence[float], rows: int) -> str | None:
    """reply_problem: what is wrong with a Score reply for rows rows (None when it is one probability per row).

    Checked on the reply's Python floats: a reply is a few values, for which this is several times
    cheaper than numpy's reductions. NaN fails both comparisons.
    """
    if len(probabilities) != rows:
        return f"{len(probabilities)} probabilities for {rows} rows"
    if all(0.0 <= p <= 1.0 for p in probabilities):
        return None
    if not all(math.isfinite(p) for p in probabilities):
        return "NaN or infinite probabilities"
    return "probabilities outside [0, 1]"


class Scorer(Protocol):
    """Scorer: what the router core scores with: the Score RPC (CoalescingScorer) or a scorer in the same process."""

    async def score(self, embeddings: np.ndarray, timeout_s: float | None = None) -> Scores: ...

    async def model_info(self, timeout_s: float = 5.0) -> scorer_pb2.GetModelInfoResponse: ...

    async def close(self) -> None: ...


class ScorerClient:
    """ScorerClient: an aio channel to the scorer sidecar (host:port or unix:PATH); over TLS when
    tls has trust roots and the target is not a unix socket.

    token, when given, returns the bearer token a scorer that requires one is sent with each call.
    With stream (the default), Score requests go on one long-lived ScoreStream call
    (router.score_stream), which costs both processes far less per request than a unary call; a
    scorer without ScoreStream is sent unary calls.
    """

    def __init__(
        self,
        target: str,
        timeout_s: float,
        token: Callable[[], str] | None = None,
        tls: ChannelTLSConfig | None = None,
        stream: bool = True,
    ) -> None:
        self._channel = open_channel(
            target,
            tls or ChannelTLSConfig(),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # The scorer is a sidecar: after a restart, reconnect within a second rather than
                # after gRPC's default backoff (up to two minutes of degraded routing).
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
            interceptors=telemetry.grpc_client_interceptors() or None,
        )
        self._stub = scorer_pb2_grpc.ScorerServiceStub(self._channel)
        self.timeout_s = timeout_s
        self._token = token
        # The metadata is built again only when the token changes (its file is re-read in place).
        self._metadata_for: tuple[str, tuple[tuple[str, str], ...]] | None = None
        self._stream = ScoreStreamClient(self._stub, self._metadata) if stream else None

    def _metadata(self) -> tuple[tuple[str, str], ...] | None:
        if self._token is None:
            return None
        token = self._token()
        if self._metadata_for is None or self._metadata_for[0] != token:
            self._metadata_for = (token, (("authorization", f"Bearer {token}"),))
        return self._metadata_for[1]

    async def score(self, embeddings: np.ndarray, timeout_s: float | None = None) -> Scores:
        matrix = np.ascontiguousarray(embeddings, dtype="<f4")
        rows, dim = matrix.shape
        request = scorer_pb2.ScoreRequest()
        # Set in place: half the cost of building an EmbeddingBatch and copying it in.
        batch = request.embeddings
        batch.data = matrix.tobytes()
        batch.rows = rows
        batch.dim = dim
        timeout = self.timeout_for(timeout_s)
        try:
            if self._stream is not None and self._stream.usable:
                try:
                    answer = await self._stream.score(request, timeout)
                except StreamUnsupported:
                    reply = await self._unary(request, timeout)
                else:
                    if answer.error_code:
                        raise _refused(_CODES.get(answer.error_code, grpc.StatusCode.UNKNOWN), answer.error_message)
                    reply = answer.response
            else:
                reply = await self._unary(request, timeout)
        except aio.AioRpcError as exc:
            raise _refused(exc.code(), exc.details()) from exc
        except StreamEnded as exc:
            raise _refused(exc.code, str(exc)) from exc
        except TimeoutError:
            raise _refused(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
        # A slice copies the repeated field to a list at a third of the cost of numpy reading it.
        probabilities = reply.win_probabilities[:]
        problem = reply_problem(probabilities, rows)
        if problem:
            # As good as no answer: a wrong count would give one request another's score (or none),
            # and NaN compares false with any threshold, so it would route silently.
            raise ScorerUnavailable(f"scorer answered {problem}")
        return Scores(np.array(probabilities, dtype=np.float32), reply.router_id, reply.router_version)

    async def _unary(self, request: scorer_pb2.ScoreRequest, timeout: float) -> scorer_pb2.ScoreResponse:
        return await self._stub.Score(request, timeout=timeout, metadata=self._metadata())

    def timeout_for(self, budget_s: float | None) -> float:
        """The Score timeout: the configured one, or the caller's budget when that is shorter."""
        return self.timeout_s if budget_s is None else min(budget_s, self.timeout_s)

    async def model_info(self, timeout_s: float = 5.0) -> scorer_pb2.GetModelInfoResponse:
        return await self._stub.GetModelInfo(
            scorer_pb2.GetModelInfoRequest(), timeout=timeout_s, metadata=self._metadata()
        )

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
        await self._channel.close(None)


# A ScoreStream answer's error_code is a status code's number.
_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _refused(code: grpc.StatusCode, details: str | None) -> ScorerUnavailable:
    """The scorer's refusal (a unary call's status, or a ScoreStream answer's error) as ScorerUnavailable."""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        # A wrong dimension is a deployment error, not an outage; say so plainly.
        return ScorerUnavailable(f"scorer refused the embeddings: {details}")
    return ScorerUnavailable(f"scorer {code.name.lower()}: {details}")


class CoalescingScorer:
    """CoalescingScorer: merges concurrent Score calls from many requests into fewer RPCs.

    A call goes out at once while fewer than ``max_in_flight`` RPCs are pending, so a lone
    request pays no extra latency: with nothing queued it makes the RPC itself, in its own task
    (no task, future or shield of the coalescer's); under load, calls that arrive meanwhile queue
    and leave together in the next RPC. Each RPC costs the router and the scorer far more CPU than the
    scoring itself, so this is what lets two cores make thousands of decisions a second.

    With ``linger_s`` above 0, an RPC that returns while calls are waiting (the router is under load)
    holds its slot while the event loop stays busy, at most ``linger_s``, so that the next RPC also
    carries the calls that come meanwhile. A Score answer comes back in a fraction of a millisecond,
    in which a busy router brings one or two more requests to scoring, so without it RPCs stay small.
    The slot is handed on as soon as the loop has had nothing else to run for two turns: then no
    other request is on its way to scoring (a few callers in lockstep are all in the waiting batch,
    and holding it would only idle the router), so a quiet or lightly loaded router never waits. A
    call that finds nothing in flight goes at once. 0 turns it off.
    """

    def __init__(
        self, client: ScorerClient, max_in_flight: int = 1, max_rows: int = 256, linger_s: float = 0.0
    ) -> None:
        self.client = client
        self._max_in_flight = max_in_flight
        self._max_rows = max_rows
        self._linger_s = linger_s
        self._linger: asyncio.Handle | None = None
        self._linger_until = 0.0
        self._quiet_turns = 0
        # Each call keeps its caller's context: an RPC runs in its first caller's, so its client
        # span (and the scorer's spans under it) sit in that request's trace; when it carries
        # several requests, a span links it to the others' traces.
        self._pending: list[tuple[np.ndarray, asyncio.Future, contextvars.Context]] = []
        self._in_flight = 0

    async def score(self, embeddings: np.ndarray, timeout_s: float | None = None) -> Scores:
        timeout = self.client.timeout_for(timeout_s)
        if not self._pending and self._in_flight < self._max_in_flight:
            return await self._score_alone(embeddings, timeout)
        future = asyncio.get_running_loop().create_future()
        self._pending.append((embeddings, future, contextvars.copy_context()))
        self._launch()
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(timeout, 0.0))
        except TimeoutError:
            raise _late(timeout) from None

    async def _score_alone(self, embeddings: np.ndarray, timeout: float) -> Scores:
        """One caller's own RPC: no one else is in it, so its caller's cancellation may cancel it."""
        self._in_flight += 1
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                return await self.client.score(embeddings, timeout)
        except TimeoutError:
            raise _late(timeout) from None
        finally:
            self._returned()

    def _launch(self) -> None:
        while self._pending and self._in_flight < self._max_in_flight:
            batch: list[tuple[np.ndarray, asyncio.Future, contextvars.Context]] = []
            rows = 0
            while self._pending and (not batch or rows + self._pending[0][0].shape[0] <= self._max_rows):
                item = self._pending.pop(0)
                batch.append(item)
                rows += item[0].shape[0]
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._run(batch), context=batch[0][2])

    async def _run(self, batch: list[tuple[np.ndarray, asyncio.Future, contextvars.Context]]) -> None:
        try:
            if len(batch) == 1:
                scores = await self.client.score(batch[0][0])
            else:
                links = [trace.Link(ctx.run(trace.get_current_span).get_span_context()) for _, _, ctx in batch[1:]]
                with _tracer.start_as_current_span(
                    semconv.SPAN_ROUTER_SCORE_COALESCED, links=links, attributes={semconv.SCORE_REQUESTS: len(batch)}
                ):
                    scores = await self.client.score(np.concatenate([e for e, _, _ in batch]))
        except ScorerUnavailable as exc:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            start = 0
            for embeddings, future, _ in batch:
                end = start + embeddings.shape[0]
                if not future.done():
                    future.set_result(
                        Scores(scores.win_probabilities[start:end], scores.router_id, scores.router_version)
                    )
                start = end
        finally:
            self._returned()

    def _returned(self) -> None:
        """An RPC returned: its slot goes to the waiting calls, linger_s later when there are any."""
        if self._pending and self._linger_s > 0:
            loop = asyncio.get_running_loop()
            self._linger_until = loop.time() + self._linger_s
            self._quiet_turns = 0
            self._linger = loop.call_soon(self._watch)
        else:
            self._release()

    def _watch(self) -> None:
        """Once per loop turn while the slot is held: hands it on when the loop has had nothing else
        to run for two turns, the waiting rows fill an RPC, or linger_s has passed."""
        loop = asyncio.get_running_loop()
        # asyncio's ready queue: the callbacks this turn and the next will run. A loop without one
        # (not asyncio's own) counts as busy throughout, and the slot is held for linger_s.
        ready = getattr(loop, "_ready", None)
        self._quiet_turns = self._quiet_turns + 1 if ready is not None and not ready else 0
        rows = sum(e.shape[0] for e, _, _ in self._pending)
        if self._quiet_turns >= 2 or rows >= self._max_rows or loop.time() >= self._linger_until:
            self._release()
        else:
            self._linger = loop.call_soon(self._watch)

    def _release(self) -> None:
        self._linger = None
        self._in_flight -= 1
        self._launch()

    async def model_info(self, timeout_s: float = 5.0) -> scorer_pb2.GetModelInfoResponse:
        return await self.client.model_info(timeout_s)

    async def close(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
        await self.client.close()


def _late(timeout: float) -> ScorerUnavailable:
    return ScorerUnavailable(f"scorer did not answer within {timeout * 1000:.0f} ms")
