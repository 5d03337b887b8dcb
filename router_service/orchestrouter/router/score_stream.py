"""ScoreStreamClient: the router's Score requests on one long-lived ScoreStream call to the scorer.

A unary Score call costs both processes a call's setup and teardown in grpc.aio, several times the
cost of a message on a call that is already open. So the router keeps one ScoreStream open and
sends each Score request on it with an id; a reader task hands each answer to the request with
that id. What a unary call gives, kept:

- a per-request timeout: a request that is not answered in time fails alone; its late answer finds
  no one waiting and is dropped;
- the bearer token of the moment: a call is opened with the token of its time, and a new token
  opens a new call (the old one is half-closed, so it ends once its requests are answered);
- reconnection: when the call ends (the scorer drained, restarted or crashed), the requests still
  waiting on it fail (the router degrades them, as it does a failed unary call) and the next
  request opens a new call, on the channel's short reconnect backoff;
- a scorer that has no ScoreStream (an older one) answers UNIMPLEMENTED: requests go back to unary
  Score, and the stream is tried again after UNSUPPORTED_RETRY_S;
- tracing: each request gets a client span, named as the unary call's, whose W3C context travels in
  the message (the scorer makes the server span under it). The call itself is opened outside any
  request's context, so its own long-lived spans sit in no request's trace.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
from collections.abc import Callable

import grpc
from grpc import aio
from opentelemetry import propagate, trace

from orchestrouter.runtime import semconv, telemetry
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

_tracer = trace.get_tracer(__name__)
# How long a scorer that answered UNIMPLEMENTED is scored with unary calls before the stream is tried again.
UNSUPPORTED_RETRY_S = 60.0

Metadata = tuple[tuple[str, str], ...] | None


class StreamEnded(Exception):
    """The call a request was sent on ended before its answer came; the message says why."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        super().__init__(message)
        self.code = code


class StreamUnsupported(Exception):
    """The scorer has no ScoreStream (UNIMPLEMENTED): the request should be sent as a unary Score."""


class _Call:
    """One open ScoreStream call: writes one at a time, and a reader that hands out the answers."""

    def __init__(self, call: aio.StreamStreamCall, metadata: Metadata) -> None:
        self.call = call
        self.metadata = metadata
        self.waiting: dict[int, asyncio.Future[scorer_pb2.ScoreStreamResponse]] = {}
        self.ended = False
        # grpc.aio allows one write at a time on a call.
        self.write_lock = asyncio.Lock()
        # In an empty context: the reader belongs to no request.
        self.reader = asyncio.get_running_loop().create_task(self._read(), context=contextvars.Context())

    async def _read(self) -> None:
        error: Exception = StreamEnded("scorer ended the Score stream")
        try:
            while True:
                answer = await self.call.read()
                if not isinstance(answer, scorer_pb2.ScoreStreamResponse):
                    break  # grpc.aio.EOF: the scorer ended the call
                future = self.waiting.pop(answer.id, None)
                if future is not None and not future.done():
                    future.set_result(answer)
        except aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                error = StreamUnsupported()
            else:
                error = StreamEnded(exc.details() or "scorer ended the Score stream", exc.code())
        except asyncio.CancelledError:
            error = StreamEnded("the Score stream was closed")
        finally:
            self.ended = True
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(error)
            self.waiting.clear()

    def half_close(self) -> None:
        """No more requests: the scorer ends the call once it has answered those it has."""
        self.ended = True
        asyncio.get_running_loop().create_task(self._done_writing(), context=contextvars.Context())

    async def _done_writing(self) -> None:
        try:
            async with self.write_lock:
                await self.call.done_writing()
        except (aio.AioRpcError, aio.UsageError, asyncio.InvalidStateError):
            pass  # the call has ended already


class ScoreStreamClient:
    """ScoreStreamClient: score() sends a ScoreRequest on the open ScoreStream call (opening one when
    none is open or the token changed) and returns the scorer's answer to it."""

    def __init__(self, stub: scorer_pb2_grpc.ScorerServiceStub, metadata: Callable[[], Metadata]) -> None:
        self._stub = stub
        self._metadata = metadata
        self._call: _Call | None = None
        self._ids = itertools.count(1)
        self._unsupported_until = 0.0

    @property
    def usable(self) -> bool:
        """False for a while after the scorer answered that it has no ScoreStream."""
        return self._unsupported_until == 0.0 or time.monotonic() >= self._unsupported_until

    async def score(self, request: scorer_pb2.ScoreRequest, timeout_s: float) -> scorer_pb2.ScoreStreamResponse:
        """The answer to request (its error_code set when the scorer refused it).

        Raises TimeoutError after timeout_s, StreamEnded when the call ended first, StreamUnsupported
        when the scorer has no ScoreStream.
        """
        call = self._open()
        request_id = next(self._ids)
        future: asyncio.Future[scorer_pb2.ScoreStreamResponse] = asyncio.get_running_loop().create_future()
        call.waiting[request_id] = future
        message = scorer_pb2.ScoreStreamRequest(id=request_id, request=request)
        try:
            if telemetry.in_trace():
                with _tracer.start_as_current_span(
                    semconv.SPAN_SCORE, kind=trace.SpanKind.CLIENT, attributes=semconv.SCORE_RPC_ATTRIBUTES
                ):
                    propagate.inject(message.trace_context)
                    return await self._exchange(call, message, future, timeout_s)
            return await self._exchange(call, message, future, timeout_s)
        except StreamUnsupported:
            self._unsupported_until = time.monotonic() + UNSUPPORTED_RETRY_S
            raise
        finally:
            call.waiting.pop(request_id, None)

    async def _exchange(
        self,
        call: _Call,
        message: scorer_pb2.ScoreStreamRequest,
        future: asyncio.Future[scorer_pb2.ScoreStreamResponse],
        timeout_s: float,
    ) -> scorer_pb2.ScoreStreamResponse:
        # A write cut short by the timeout or the caller's cancellation cancels the call (grpc.aio):
        # the requests on it fail, and the next request opens another.
        async with asyncio.timeout(max(timeout_s, 0.0)):
            try:
                async with call.write_lock:
                    await call.call.write(message)
            except (aio.AioRpcError, aio.UsageError, asyncio.InvalidStateError):
                # The call has ended: its reader says why (UNIMPLEMENTED, UNAVAILABLE, ...).
                await asyncio.wait({call.reader})
                if not future.done():
                    raise StreamEnded("scorer ended the Score stream") from None
            return await future

    def _open(self) -> _Call:
        metadata = self._metadata()
        call = self._call
        if call is not None and not call.ended and call.metadata == metadata:
            return call
        if call is not None and not call.ended:
            call.half_close()  # the token changed: requests go on a call opened with the new one
        # Opened in an empty context, so that the call's own spans (when traced) are in no request's trace.
        stream = contextvars.Context().run(self._stub.ScoreStream, metadata=metadata)
        self._call = _Call(stream, metadata)
        return self._call

    async def close(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.call.cancel()
            await asyncio.wait({call.reader})
