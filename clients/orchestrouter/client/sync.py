"""Typed, synchronous clients for callers of RouterService and ScorerService."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Self

import grpc
import numpy as np
import numpy.typing as npt

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
from orchestrouter.client.options import bearer_metadata, call_metadata, channel_credentials
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2, scorer_pb2_grpc

__all__ = ["RouteAnswer", "RouterClient", "ScorerClient", "bearer_metadata", "call_metadata", "channel_credentials"]


class _Client(Connection[grpc.Channel, StubT]):
    """_Client: a blocking channel to one service; connection settings as ClientOptions."""

    def _open_channel(
        self, target: str, credentials: grpc.ChannelCredentials | None, channel_options: list[tuple[str, Any]]
    ) -> grpc.Channel:
        if credentials is None:
            return grpc.insecure_channel(target, options=channel_options)
        return grpc.secure_channel(target, credentials, options=channel_options)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RouterClient(_Client[router_pb2_grpc.RouterServiceStub]):
    """RouterClient: calls RouterService on a router at `target` (host:port); connection settings as
    ClientOptions (each call's deadline 60 s by default; UNAVAILABLE retried with backoff)."""

    service = ROUTER_SERVICE
    _stub_type = router_pb2_grpc.RouterServiceStub
    default_timeout_s = 60.0

    def route(
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
        return RouteAnswer.from_pb(self._stub.Route(request, timeout=self._timeout_s, metadata=self._metadata))

    def route_stream(
        self,
        text: str | None = None,
        *,
        messages: Sequence[tuple[str, str]] = (),
        threshold: float | None = None,
        premium_share: float | None = None,
        dry_run: bool = False,
    ) -> Iterator[str | RouteAnswer]:
        """Yields the answer's text deltas as they arrive, then the final RouteAnswer.

        A stream cut after it began raises grpc.RpcError (UNAVAILABLE): never a silently short answer.
        """
        request = route_request(router_pb2.RouteStreamRequest(), text, messages, threshold, premium_share, dry_run)
        for event in self._stub.RouteStream(request, timeout=self._timeout_s, metadata=self._metadata):
            item = stream_item(event)
            if item is not None:
                yield item

    def status(self) -> router_pb2.GetStatusResponse:
        """The router's status: its model, the scorer's and each tier's health."""
        reply: router_pb2.GetStatusResponse = self._stub.GetStatus(
            router_pb2.GetStatusRequest(), timeout=self._timeout_s, metadata=self._metadata
        )
        return reply

    def feedback(self, request_id: str, rating: int, comment: str = "") -> None:
        """Rates an answered request (a RouteAnswer's request_id): rating -1 (bad), 0 (neutral) or +1 (good).

        Raises grpc.RpcError: INVALID_ARGUMENT (another rating, an over-long comment), NOT_FOUND,
        PERMISSION_DENIED (another caller's request), FAILED_PRECONDITION (the router keeps no store).
        """
        self._stub.Feedback(
            feedback_request(request_id, rating, comment), timeout=self._timeout_s, metadata=self._metadata
        )


class ScorerClient(_Client[scorer_pb2_grpc.ScorerServiceStub]):
    """ScorerClient: scores embeddings with ScorerService.Score; connection settings as ClientOptions
    (each call's deadline 10 s by default; UNAVAILABLE retried with backoff)."""

    service = SCORER_SERVICE
    _stub_type = scorer_pb2_grpc.ScorerServiceStub
    default_timeout_s = 10.0

    def score(self, embeddings: Embeddings) -> npt.NDArray[np.float32]:
        """The win probability of each row of embeddings (a 2-D float32 array, or a sequence of rows)."""
        reply = self._stub.Score(score_request(embeddings), timeout=self._timeout_s, metadata=self._metadata)
        return win_probabilities(reply)

    def model_info(self) -> scorer_pb2.GetModelInfoResponse:
        """The loaded router model's metadata (id, version, embedding dimension...)."""
        reply: scorer_pb2.GetModelInfoResponse = self._stub.GetModelInfo(
            scorer_pb2.GetModelInfoRequest(), timeout=self._timeout_s, metadata=self._metadata
        )
        return reply
