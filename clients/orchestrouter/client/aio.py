"""Typed asyncio clients (grpc.aio) for RouterService and ScorerService: the synchronous clients' calls,
awaited; the same ClientOptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

import grpc
import numpy as np
import numpy.typing as npt
from grpc import aio

from orchestrouter.client.answer import RouteAnswer
from orchestrouter.client.connection import Connection, StubT
from orchestrouter.client.messages import (
    ROUTER_SERVICE,
    SCORER_SERVICE,
    Embeddings,
    feedback_request,
    route_request,
    score_request,
    stream_item,
    win_probabilities,
)
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2, scorer_pb2_grpc

__all__ = ["AsyncRouterClient", "AsyncScorerClient"]


class _AsyncClient(Connection[aio.Channel, StubT]):
    """_AsyncClient: a grpc.aio channel to one service; open it inside the event loop that uses it."""

    def _open_channel(
        self, target: str, credentials: grpc.ChannelCredentials | None, channel_options: list[tuple[str, Any]]
    ) -> aio.Channel:
        if credentials is None:
            return aio.insecure_channel(target, options=channel_options)
        return aio.secure_channel(target, credentials, options=channel_options)

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncRouterClient(_AsyncClient[router_pb2_grpc.RouterServiceStub]):
    """AsyncRouterClient: RouterClient for asyncio (``async with AsyncRouterClient("host:port") as c``)."""

    service = ROUTER_SERVICE
    _stub_type = router_pb2_grpc.RouterServiceStub
    default_timeout_s = 60.0

    async def route(
        self,
        text: str | None = None,
        *,
        messages: Sequence[tuple[str, str]] = (),
        threshold: float | None = None,
        premium_share: float | None = None,
        dry_run: bool = False,
    ) -> RouteAnswer:
        """Routes one conversation: messages (role, content), then text as the last user message."""
        request = route_request(router_pb2.RouteRequest(), text, messages, threshold, premium_share, dry_run)
        reply = await self._stub.Route(request, timeout=self._timeout_s, metadata=self._metadata)
        return RouteAnswer.from_pb(reply)

    async def route_stream(
        self,
        text: str | None = None,
        *,
        messages: Sequence[tuple[str, str]] = (),
        threshold: float | None = None,
        premium_share: float | None = None,
        dry_run: bool = False,
    ) -> AsyncIterator[str | RouteAnswer]:
        """Yields the answer's text deltas as they arrive, then the final RouteAnswer (``async for``).

        A stream cut after it began raises grpc.RpcError (UNAVAILABLE): never a silently short answer.
        """
        request = route_request(router_pb2.RouteStreamRequest(), text, messages, threshold, premium_share, dry_run)
        call = self._stub.RouteStream(request, timeout=self._timeout_s, metadata=self._metadata)
        try:
            async for event in call:
                item = stream_item(event)
                if item is not None:
                    yield item
        finally:
            call.cancel()  # a caller that stops iterating early ends the call (no-op once it finished)

    async def status(self) -> router_pb2.GetStatusResponse:
        """The router's status: its model, the scorer's and each tier's health."""
        reply: router_pb2.GetStatusResponse = await self._stub.GetStatus(
            router_pb2.GetStatusRequest(), timeout=self._timeout_s, metadata=self._metadata
        )
        return reply

    async def feedback(self, request_id: str, rating: int, comment: str = "") -> None:
        """Rates an answered request (a RouteAnswer's request_id): rating -1 (bad), 0 (neutral) or +1 (good).

        Raises grpc.RpcError: INVALID_ARGUMENT (another rating, an over-long comment), NOT_FOUND,
        PERMISSION_DENIED (another caller's request), FAILED_PRECONDITION (the router keeps no store).
        """
        await self._stub.Feedback(
            feedback_request(request_id, rating, comment), timeout=self._timeout_s, metadata=self._metadata
        )


class AsyncScorerClient(_AsyncClient[scorer_pb2_grpc.ScorerServiceStub]):
    """AsyncScorerClient: ScorerClient for asyncio."""

    service = SCORER_SERVICE
    _stub_type = scorer_pb2_grpc.ScorerServiceStub
    default_timeout_s = 10.0

    async def score(self, embeddings: Embeddings) -> npt.NDArray[np.float32]:
        """The win probability of each row of embeddings (a 2-D float32 array, or a sequence of rows)."""
        reply = await self._stub.Score(score_request(embeddings), timeout=self._timeout_s, metadata=self._metadata)
        return win_probabilities(reply)

    async def model_info(self) -> scorer_pb2.GetModelInfoResponse:
        """The loaded router model's metadata (id, version, embedding dimension...)."""
        reply: scorer_pb2.GetModelInfoResponse = await self._stub.GetModelInfo(
            scorer_pb2.GetModelInfoRequest(), timeout=self._timeout_s, metadata=self._metadata
        )
        return reply
