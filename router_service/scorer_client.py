"""The router's side of the Score RPC."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import numpy as np
from grpc import aio

from clients.stubs.orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc
from router_service.runtime.serving import MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class Scores:
    """Scores: win probabilities and the model that produced them."""

    win_probabilities: np.ndarray
    router_id: str
    router_version: str


class ScorerUnavailable(Exception):
    """The scorer could not score (down, timed out, or refused); the router degrades."""


class ScorerClient:
    """ScorerClient: an aio channel to the scorer sidecar (host:port or unix:PATH)."""

    def __init__(self, target: str, timeout_s: float) -> None:
        self._channel = aio.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ])
        self._stub = scorer_pb2_grpc.ScorerServiceStub(self._channel)
        self._timeout_s = timeout_s

    async def score(self, embeddings: np.ndarray, timeout_s: float | None = None) -> Scores:
        matrix = np.ascontiguousarray(embeddings, dtype="<f4")
        request = scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(
            data=matrix.tobytes(), rows=matrix.shape[0], dim=matrix.shape[1]))
        timeout = self._timeout_s if timeout_s is None else min(timeout_s, self._timeout_s)
        try:
            reply = await self._stub.Score(request, timeout=timeout)
        except aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # A wrong dimension is a deployment error, not an outage; say so plainly.
                raise ScorerUnavailable(f"scorer refused the embeddings: {exc.details()}") from exc
            raise ScorerUnavailable(f"scorer {exc.code().name.lower()}: {exc.details()}") from exc
        return Scores(np.asarray(reply.win_probabilities, dtype=np.float32), reply.router_id, reply.router_version)

    async def model_info(self, timeout_s: float = 5.0) -> scorer_pb2.GetModelInfoResponse:
        return await self._stub.GetModelInfo(scorer_pb2.GetModelInfoRequest(), timeout=timeout_s)

    async def close(self) -> None:
        await self._channel.close()
