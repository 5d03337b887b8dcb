"""Typed, synchronous clients for callers of RouterService and ScorerService."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, Self, TypeVar

import grpc
import numpy as np

from orchestrouter.client.answer import RouteAnswer
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2, scorer_pb2_grpc

__all__ = ["RouteAnswer", "RouterClient", "ScorerClient"]

StubT = TypeVar("StubT")


def channel_credentials(
    ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> grpc.ChannelCredentials | None:
    """channel_credentials: TLS credentials from PEM files, or None (plaintext) when none is given.

    ca_file holds the roots that sign the server's certificate (the system's when omitted);
    cert_file and key_file, together, are the client certificate a server requiring mTLS checks.
    """
    if not (ca_file or cert_file or key_file):
        return None
    if bool(cert_file) != bool(key_file):
        raise ValueError("a client certificate needs both its certificate file and its key file")
    return grpc.ssl_channel_credentials(
        root_certificates=Path(ca_file).read_bytes() if ca_file else None,
        private_key=Path(key_file).read_bytes() if key_file else None,
        certificate_chain=Path(cert_file).read_bytes() if cert_file else None,
    )


def _open_channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    return grpc.secure_channel(target, credentials) if credentials is not None else grpc.insecure_channel(target)


_RATING_TO_PB = {-1: router_pb2.RATING_BAD, 0: router_pb2.RATING_NEUTRAL, 1: router_pb2.RATING_GOOD}


class _Client(Generic[StubT]):
    """_Client: a channel to one service, with the stub, deadline and metadata every call carries.

    TLS: tls_ca_file (the server certificate's CA), and for mTLS tls_cert_file and tls_key_file;
    or ready-made grpc ``credentials``. Without any, the channel is plaintext. token is the bearer
    token a service that requires one is sent with each call; metadata, more (key, value) pairs sent
    with each call (a tenant id, a traceparent, ...).
    """

    _stub_type: Callable[[grpc.Channel], StubT]
    default_timeout_s: float

    def __init__(
        self,
        target: str,
        timeout_s: float | None = None,
        token: str | None = None,
        *,
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        credentials = credentials or channel_credentials(tls_ca_file, tls_cert_file, tls_key_file)
        self._channel = _open_channel(target, credentials)
        self._stub = type(self)._stub_type(self._channel)
        self._timeout_s = self.default_timeout_s if timeout_s is None else timeout_s
        self._metadata = call_metadata(token, metadata)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RouterClient(_Client[router_pb2_grpc.RouterServiceStub]):
    """RouterClient: calls RouterService.Route on a router at `target` (host:port); connection
    settings as _Client (timeout 60 s by default)."""

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
        request = _fill(router_pb2.RouteRequest(), text, messages, threshold, premium_share, dry_run)
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
        request = _fill(router_pb2.RouteStreamRequest(), text, messages, threshold, premium_share, dry_run)
        for event in self._stub.RouteStream(request, timeout=self._timeout_s, metadata=self._metadata):
            kind = event.WhichOneof("event")
            if kind == "delta":
                yield event.delta
            elif kind == "done":
                yield RouteAnswer.from_pb(event.done)

    def feedback(self, request_id: str, rating: int, comment: str = "") -> None:
        """Rates an answered request (a RouteAnswer's request_id): rating -1 (bad), 0 (neutral) or +1 (good).

        Raises grpc.RpcError: INVALID_ARGUMENT (another rating, an over-long comment), NOT_FOUND,
        PERMISSION_DENIED (another caller's request), FAILED_PRECONDITION (the router keeps no store).
        """
        request = router_pb2.FeedbackRequest(
            request_id=request_id,
            # Any other number is sent as RATING_UNSPECIFIED, which the router refuses.
            rating=_RATING_TO_PB.get(rating, router_pb2.RATING_UNSPECIFIED),
            comment=comment,
        )
        self._stub.Feedback(request, timeout=self._timeout_s, metadata=self._metadata)


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    """The call metadata that presents token (``authorization: Bearer <token>``); None without one."""
    if token is None:
        return None
    token = token.strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError("the token must be printable characters without spaces")
    return (("authorization", f"Bearer {token}"),)


def call_metadata(token: str | None, extra: Sequence[tuple[str, str]] = ()) -> tuple[tuple[str, str], ...] | None:
    """The metadata sent with each call: extra pairs (keys lower case, as gRPC requires) and the token's."""
    pairs = [(key.lower(), value) for key, value in extra]
    if any(key == "authorization" for key, _ in pairs):
        raise ValueError("pass the bearer token as token=, not as metadata")
    pairs += bearer_metadata(token) or ()
    return tuple(pairs) or None


def _fill(request, text, messages, threshold, premium_share, dry_run):
    request.messages.extend(router_pb2.ChatMessage(role=r, content=c) for r, c in messages)
    if text is not None:
        request.messages.append(router_pb2.ChatMessage(role="user", content=text))
    request.dry_run = dry_run
    if threshold is not None:
        request.threshold = threshold
    if premium_share is not None:
        request.premium_share = premium_share
    return request


class ScorerClient(_Client[scorer_pb2_grpc.ScorerServiceStub]):
    """ScorerClient: scores float32 [N, D] embeddings with ScorerService.Score; connection settings as
    _Client (timeout 10 s by default)."""

    _stub_type = scorer_pb2_grpc.ScorerServiceStub
    default_timeout_s = 10.0

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        matrix = np.ascontiguousarray(embeddings, dtype="<f4")
        if matrix.ndim != 2:
            raise ValueError("embeddings must be a 2-d array")
        reply = self._stub.Score(
            scorer_pb2.ScoreRequest(
                embeddings=scorer_pb2.EmbeddingBatch(data=matrix.tobytes(), rows=matrix.shape[0], dim=matrix.shape[1])
            ),
            timeout=self._timeout_s,
            metadata=self._metadata,
        )
        return np.asarray(reply.win_probabilities, dtype=np.float32)

    def model_info(self) -> scorer_pb2.GetModelInfoResponse:
        return self._stub.GetModelInfo(
            scorer_pb2.GetModelInfoRequest(), timeout=self._timeout_s, metadata=self._metadata
        )
