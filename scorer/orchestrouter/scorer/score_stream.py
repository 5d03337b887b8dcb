"""ScoreStreams: the scorer's side of ScoreStream, Score requests on one long-lived call.

Each call reads a request, scores it as Score would (answer or error, with the request's id), writes
the answer, and reads the next: a request Score would refuse gets its error, and the call goes on.
Calls are answered in the order read; a run is microseconds, and batching happens across calls and
unary Score calls in the micro-batcher as before. drain() ends every call once the request it holds
is answered: a call waiting for its next request ends at once, so a draining scorer is not held for
the whole grace period by routers' open streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from grpc import aio

from orchestrouter.runtime.errors import UNDECODABLE_MESSAGE
from orchestrouter.v1 import scorer_pb2

DRAINING_MESSAGE = "scorer is shutting down"

Answer = Callable[[scorer_pb2.ScoreStreamRequest], Awaitable[scorer_pb2.ScoreStreamResponse]]


class ScoreStreams:
    """ScoreStreams: serves ScoreStream calls with answer(); drain() ends them."""

    def __init__(self) -> None:
        self.draining = False
        # The tasks of the calls now waiting for their next request: drain() cancels those waits.
        self._reading: set[asyncio.Task] = set()

    async def serve(
        self, context: aio.ServicerContext, answer: Answer
    ) -> AsyncIterator[scorer_pb2.ScoreStreamResponse]:
        """The call's answers, until the caller ends it or the scorer drains.

        An async generator, as the tracing and caller interceptors expect of a streaming handler;
        it reads through context (not the request iterator), so that drain() can end a wait.
        """
        task = asyncio.current_task()
        assert task is not None
        while True:
            if self.draining:
                await context.abort(grpc.StatusCode.UNAVAILABLE, DRAINING_MESSAGE)
            self._reading.add(task)
            try:
                request = await context.read()
            except asyncio.CancelledError:
                if self.draining and task.cancelling() <= 1:
                    task.uncancel()
                    continue  # cancelled by drain() while waiting: end the call
                raise
            except Exception:  # noqa: BLE001 - DecodeError, or whatever a parser raises on hostile bytes
                # Bytes that are no request carry no id to answer: the call ends, as a unary call would.
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_MESSAGE)
            finally:
                self._reading.discard(task)
            if not isinstance(request, scorer_pb2.ScoreStreamRequest):
                return  # grpc.aio.EOF: the caller closed the call
            yield await answer(request)

    def drain(self) -> None:
        """Ends every call once the request it is answering (if any) is answered; refuses new ones."""
        self.draining = True
        for task in list(self._reading):
            task.cancel()
