"""ClientOptions: how a client reaches a service, shared by the synchronous and the asyncio clients.

One object holds the target, TLS, the bearer token and extra metadata, the default deadline and the
retry policy. Retries are gRPC's own (the channel's service config, ``grpc.enable_retries``): a call
that fails UNAVAILABLE before the server answered is tried again with exponential backoff, inside the
call's deadline, with no loop in this package.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

__all__ = ["ClientOptions", "RetryPolicy", "bearer_metadata", "call_metadata", "channel_credentials"]


@dataclass(frozen=True)
class RetryPolicy:
    """RetryPolicy: gRPC's retryPolicy for every method of the service (see gRFC A6).

    max_attempts counts the first call (2 to 5; gRPC caps it at 5). Attempt n waits a random time up
    to min(initial_backoff_s * backoff_multiplier**(n-1), max_backoff_s). Only calls failing with one
    of retryable_codes before any reply arrived are retried; a stream that has begun is never replayed.
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    backoff_multiplier: float = 2.0
    retryable_codes: tuple[grpc.StatusCode, ...] = (grpc.StatusCode.UNAVAILABLE,)

    def __post_init__(self) -> None:
        if not 2 <= self.max_attempts <= 5:
            raise ValueError(f"max_attempts must be 2 to 5 (gRPC's limit), got {self.max_attempts}")
        if not (0 < self.initial_backoff_s <= self.max_backoff_s and self.backoff_multiplier > 0):
            raise ValueError("the backoff must satisfy 0 < initial_backoff_s <= max_backoff_s, multiplier > 0")
        if not self.retryable_codes:
            raise ValueError("retryable_codes must name at least one status code")

    def as_service_config(self) -> dict[str, Any]:
        """The retryPolicy object of a gRPC service config."""
        return {
            "maxAttempts": self.max_attempts,
            "initialBackoff": f"{self.initial_backoff_s:g}s",
            "maxBackoff": f"{self.max_backoff_s:g}s",
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": [code.name for code in self.retryable_codes],
        }


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


@dataclass(frozen=True)
class ClientOptions:
    """ClientOptions: a service's address and how every call to it is made.

    target: host:port (or any gRPC target: ``dns:///host:port``, ``unix:/path``). TLS: tls_ca_file (the
    server certificate's CA; the system roots when only the client certificate is given), and for mTLS
    tls_cert_file and tls_key_file; or ready-made grpc ``credentials``. Without any, plaintext.
    token: the bearer token sent with each call; metadata: more (key, value) pairs sent with each call
    (a tenant id, a traceparent...). timeout_s: each call's deadline (None: the client's default).
    retry: the RetryPolicy for UNAVAILABLE, or None for a single attempt.
    """

    target: str
    timeout_s: float | None = None
    token: str | None = field(default=None, repr=False)
    metadata: Sequence[tuple[str, str]] = ()
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    credentials: grpc.ChannelCredentials | None = None
    retry: RetryPolicy | None = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.target or any(c.isspace() for c in self.target):
            raise ValueError(f"target must be host:port without spaces, got {self.target!r}")
        if self.target.startswith(("http://", "https://")):
            raise ValueError(f"target is a gRPC address (host:port), not a URL: {self.target!r}")
        if self.timeout_s is not None and not 0 < self.timeout_s < float("inf"):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {self.timeout_s}")
        object.__setattr__(self, "metadata", tuple(self.metadata))
        self.call_metadata()  # a malformed token or metadata fails here, not at the first call

    def call_metadata(self) -> tuple[tuple[str, str], ...] | None:
        return call_metadata(self.token, self.metadata)

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        return self.credentials or channel_credentials(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)

    def channel_options(self, service: str) -> list[tuple[str, Any]]:
        """The channel arguments: gRPC retries for every method of service (full proto name) when on."""
        if self.retry is None:
            return [("grpc.enable_retries", 0)]
        config = {"methodConfig": [{"name": [{"service": service}], "retryPolicy": self.retry.as_service_config()}]}
        return [("grpc.enable_retries", 1), ("grpc.service_config", json.dumps(config))]
