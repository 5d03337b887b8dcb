"""Upstream failures: what went wrong with one endpoint call, and the one place they become statuses."""

from __future__ import annotations

import enum
import ssl
from collections.abc import Sequence

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

from orchestrouter.router.dispatch import http1
from orchestrouter.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
)

# 5xx answers worth another try; 501 (not implemented) and the rest will not get better.
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class FailureKind(enum.Enum):
    """FailureKind: the classes of upstream failure that dispatch treats differently."""

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    REJECTED_CREDENTIALS = "rejected_credentials"
    BAD_REQUEST = "bad_request"
    MALFORMED = "malformed"
    STREAM_CUT = "stream_cut"
    CIRCUIT_OPEN = "circuit_open"
    NOT_CONFIGURED = "not_configured"


# Kinds that say nothing about the endpoint's health: the circuit breaker ignores them.
NEUTRAL_FOR_BREAKER = frozenset({FailureKind.BAD_REQUEST, FailureKind.CIRCUIT_OPEN, FailureKind.NOT_CONFIGURED})
# Kinds that end the request at once: the endpoint rejected the request itself (400, 404, 422), so
# another tier would most likely reject it too, and it would be a second billed call.
ENDS_FALLBACK = frozenset({FailureKind.BAD_REQUEST})
# Kinds that never reached an endpoint; when every tier failed, a real upstream failure is reported first.
NOT_TRIED = frozenset({FailureKind.CIRCUIT_OPEN, FailureKind.NOT_CONFIGURED})


class UpstreamFailure(Exception):
    """UpstreamFailure: one endpoint call (or a skipped tier) failed; the message is caller-safe.

    The message never holds the request's headers, so never the bearer token.
    """

    def __init__(
        self,
        kind: FailureKind,
        tier: str,
        message: str,
        status: int = 0,
        retry_after_s: float | None = None,
        key_rotated: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.tier = tier
        self.status = status
        self.retry_after_s = retry_after_s
        # A rejected key whose secret file now holds another one: worth one more call.
        self.key_rotated = key_rotated

    @property
    def message(self) -> str:
        return str(self)

    @property
    def retryable(self) -> bool:
        if self.kind is FailureKind.SERVER_ERROR:
            return self.status in RETRYABLE_STATUSES
        if self.kind is FailureKind.REJECTED_CREDENTIALS:
            return self.key_rotated
        return self.kind in (FailureKind.RATE_LIMITED, FailureKind.CONNECTION)


def from_status(
    tier: str, status: int, retry_after_s: float | None, detail: str, key_rotated: bool = False
) -> UpstreamFailure:
    """The failure for an HTTP error answer; detail is the endpoint's own error message, if any."""
    if status == 429:
        return UpstreamFailure(
            FailureKind.RATE_LIMITED, tier, f"{tier} endpoint rate-limited the request (429)", status, retry_after_s
        )
    if status in (401, 403):
        return UpstreamFailure(
            FailureKind.REJECTED_CREDENTIALS,
            tier,
            f"{tier} endpoint rejected credentials ({status})",
            status,
            key_rotated=key_rotated,
        )
    if status == 408:
        return UpstreamFailure(FailureKind.TIMEOUT, tier, f"{tier} endpoint timed out (408)", status)
    if 400 <= status < 500:
        suffix = f": {detail}" if detail else ""
        return UpstreamFailure(
            FailureKind.BAD_REQUEST, tier, f"{tier} endpoint refused the request ({status}){suffix}", status
        )
    return UpstreamFailure(FailureKind.SERVER_ERROR, tier, f"{tier} endpoint answered {status}", status)


# Everything the HTTP stack can raise while calling an endpoint and reading its answer: aiohttp's own
# family (connection, payload, response, an invalid URL), http1's (ConnectionError and ValueError
# kinds), TLS and socket errors that escape them, our own timeouts, and text or JSON that does not
# decode. from_exception() maps each to a failure, so the request falls back rather than ending as INTERNAL.
HTTP_STACK_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    aiohttp.ClientError,
    OSError,
    ValueError,  # UnicodeError and json.JSONDecodeError among them
)


def from_exception(tier: str, exc: BaseException, timeout_s: float) -> UpstreamFailure:
    """The failure for an exception raised while calling an endpoint (transport or our own timeout).

    Messages name the exception's class at most, never its text, which may quote the request.
    """
    # Before TimeoutError: aiohttp's connect timeout is one too, but it is the endpoint being unreachable.
    if isinstance(exc, (aiohttp.ConnectionTimeoutError, http1.ConnectTimedOut)):
        return UpstreamFailure(FailureKind.CONNECTION, tier, f"{tier} endpoint unreachable (connect timed out)")
    if isinstance(exc, TimeoutError):
        return UpstreamFailure(FailureKind.TIMEOUT, tier, f"{tier} endpoint timed out after {timeout_s:.2f}s")
    if _is_certificate_error(exc):
        return UpstreamFailure(
            FailureKind.CONNECTION, tier, f"{tier} endpoint unreachable (its TLS certificate is not trusted)"
        )
    if isinstance(exc, (aiohttp.ClientConnectorError, http1.CannotConnect)):
        return UpstreamFailure(FailureKind.CONNECTION, tier, f"{tier} endpoint unreachable (cannot connect)")
    if isinstance(exc, http1.UndecodableBody) or (
        isinstance(exc, aiohttp.ClientPayloadError) and _is_encoding_error(exc)
    ):
        return UpstreamFailure(
            FailureKind.MALFORMED, tier, f"{tier} endpoint answered a body that cannot be decoded (content encoding)"
        )
    if isinstance(
        exc,
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError, http1.DroppedConnection),
    ):
        return UpstreamFailure(FailureKind.CONNECTION, tier, f"{tier} endpoint dropped the connection")
    if isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        return UpstreamFailure(FailureKind.CONNECTION, tier, f"{tier} endpoint unreachable ({type(exc).__name__})")
    if isinstance(exc, (aiohttp.ClientError, ValueError)):
        # A response aiohttp cannot parse (ClientResponseError), an invalid URL, text that does not decode.
        return UpstreamFailure(
            FailureKind.MALFORMED, tier, f"{tier} endpoint answered unreadably ({type(exc).__name__})"
        )
    raise exc


def _is_encoding_error(exc: aiohttp.ClientPayloadError) -> bool:
    """Whether the body failed to decompress (Content-Encoding), rather than being cut short."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ContentEncodingError) or "content-encoding" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unusable_key(tier: str, problem: str) -> UpstreamFailure:
    """The failure of a tier whose key file holds a key that cannot be sent (problem names the variable)."""
    return UpstreamFailure(FailureKind.NOT_CONFIGURED, tier, f"the {tier} tier's API key is not usable: {problem}")


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def not_configured(tier: str) -> UpstreamFailure:
    return UpstreamFailure(
        FailureKind.NOT_CONFIGURED,
        tier,
        f"the {tier} tier has no endpoint configured (set ORCHESTROUTER_{tier.upper()}_BASE_URL)",
    )


def circuit_open(tier: str) -> UpstreamFailure:
    return UpstreamFailure(FailureKind.CIRCUIT_OPEN, tier, f"{tier} endpoint's circuit is open")


_ERROR_FOR_KIND: dict[FailureKind, type[ServiceError]] = {
    FailureKind.RATE_LIMITED: ResourceExhausted,
    FailureKind.TIMEOUT: DeadlineExceeded,
    FailureKind.SERVER_ERROR: Unavailable,
    FailureKind.CONNECTION: Unavailable,
    FailureKind.MALFORMED: Unavailable,
    FailureKind.STREAM_CUT: Unavailable,
    FailureKind.CIRCUIT_OPEN: Unavailable,
    FailureKind.REJECTED_CREDENTIALS: Unauthenticated,
    FailureKind.BAD_REQUEST: InvalidArgument,
    FailureKind.NOT_CONFIGURED: FailedPrecondition,
}


def to_service_error(failures: Sequence[UpstreamFailure]) -> ServiceError:
    """to_service_error: the status a caller sees when every tier it could use failed.

    The code is that of the last tier actually called (the last skipped one when none was
    called); the message lists what happened on each tier, in order.
    """
    tried = [f for f in failures if f.kind not in NOT_TRIED]
    deciding = (tried or list(failures))[-1]
    error = _ERROR_FOR_KIND[deciding.kind]("; ".join(f.message for f in failures))
    error.client_may_retry = False  # each tier was tried already, with its retries
    # The soonest a rate-limited tier said it would take requests again (HTTP callers get Retry-After).
    waits = [f.retry_after_s for f in failures if f.kind is FailureKind.RATE_LIMITED and f.retry_after_s is not None]
    if deciding.kind is FailureKind.RATE_LIMITED and waits:
        error.retry_after_s = min(waits)
    return error
