"""auth: inbound bearer-token authentication, the same for both services.

Tokens come from one file (``ORCHESTROUTER_AUTH_TOKENS_FILE``, a mounted Kubernetes Secret), one
``caller:token`` per line; blank lines and lines starting with ``#`` are ignored, and a caller may
have several lines, so a token is rotated by adding the new one, moving callers over, then removing
the old one. The file is re-read when it changes (TokenSet), with no restart.

The AuthInterceptor answers UNAUTHENTICATED ("missing or invalid bearer token") to a call without a
token from the file, and lets the health and reflection services through for probes. A handler
learns who called from ``current_caller()``; the caller's name, never the token, goes on the server
span. Only SHA-256 digests of the tokens are kept in memory, compared in constant time.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import inspect
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio
from opentelemetry import trace

from orchestrouter.runtime import semconv
from orchestrouter.runtime.tls import peer_identity
from orchestrouter.runtime.watched_file import FileFormatError, WatchedFile, describe

TOKENS_FILE_VARIABLE = "ORCHESTROUTER_AUTH_TOKENS_FILE"
UNAUTHENTICATED_MESSAGE = "missing or invalid bearer token"
# Probes and tooling reach these without a token.
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
CALLER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Shorter tokens are guessable; `openssl rand -hex 32` gives 64 characters.
MIN_TOKEN_CHARS = 16

_caller: contextvars.ContextVar[str] = contextvars.ContextVar("orchestrouter_caller", default="")


def current_caller() -> str:
    """The authenticated caller of the request being handled; "" when authentication is off."""
    return _caller.get()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class Tokens:
    """Tokens: each token's SHA-256 digest and the caller it names."""

    entries: tuple[tuple[bytes, str], ...]

    @property
    def callers(self) -> frozenset[str]:
        return frozenset(caller for _, caller in self.entries)

    def caller_for(self, token: str) -> str | None:
        """The caller token belongs to, or None; compares with every entry, in constant time each."""
        digest = _digest(token)
        found = None
        for candidate, caller in self.entries:
            if hmac.compare_digest(digest, candidate) and found is None:
                found = caller
        return found


def parse_tokens(text: str) -> Tokens:
    """Tokens from the file's text; FileFormatError names the line, never its content (a line written
    token:caller by mistake would put the token where the caller's name belongs)."""
    entries: list[tuple[bytes, str]] = []
    seen: set[bytes] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        caller, sep, token = (part.strip() for part in line.partition(":"))
        if not sep or not CALLER_NAME.fullmatch(caller):
            raise FileFormatError(
                f"line {number}: expected caller:token with a caller name of letters, digits, '.', '_' or '-'"
            )
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() or not c.isprintable() for c in token):
            raise FileFormatError(
                f"line {number}: the token must be at least {MIN_TOKEN_CHARS} printable characters without spaces"
            )
        digest = _digest(token)
        if digest in seen:
            raise FileFormatError(f"line {number}: a token listed twice")
        seen.add(digest)
        entries.append((digest, caller))
    if not entries:
        raise FileFormatError("no caller:token line (an empty file would lock every caller out)")
    return Tokens(tuple(entries))


class TokenSet:
    """TokenSet: the tokens of a file, re-read at most every recheck_s when it changes.

    The first read must succeed (OSError or FileFormatError otherwise: the service does not start);
    a later unreadable or malformed version keeps the last good tokens and logs once.
    """

    def __init__(self, path: str, recheck_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._file = WatchedFile(path, parse_tokens, TOKENS_FILE_VARIABLE, recheck_s, clock)

    @property
    def path(self) -> str:
        return self._file.path

    def caller_for(self, token: str) -> str | None:
        return self._file.current().caller_for(token)

    def callers(self) -> frozenset[str]:
        return self._file.current().callers


class AuthFileError(RuntimeError):
    """The token file named at startup cannot be read or holds no valid token list."""


def load_token_set(path: str, recheck_s: float = 1.0) -> TokenSet | None:
    """The TokenSet of path, or None when path is "" (authentication off); AuthFileError says what is wrong."""
    if not path:
        return None
    try:
        return TokenSet(path, recheck_s)
    except (OSError, ValueError) as exc:
        raise AuthFileError(f"{TOKENS_FILE_VARIABLE} {path}: {describe(exc)}") from None


def bearer_token(metadata: Any) -> str:
    """The token of an ``authorization: Bearer <token>`` header in metadata, or ""."""
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


class AuthInterceptor(aio.ServerInterceptor):
    """AuthInterceptor: lets a call through only with a token of the TokenSet (health and reflection
    always), and tells the handler who called."""

    def __init__(self, tokens: TokenSet) -> None:
        self.tokens = tokens

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_SERVICES):
            return handler
        token = bearer_token(details.invocation_metadata)
        caller = self.tokens.caller_for(token) if token else None
        if caller is None:
            return _refusal(handler)
        return _as_caller(handler, lambda _context: caller)


class CertificateCallerInterceptor(aio.ServerInterceptor):
    """CertificateCallerInterceptor: with mTLS and no token file, tells the handler who called by the
    name in the caller's verified client certificate (TLS itself has refused callers without one)."""

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_SERVICES):
            return handler
        return _as_caller(handler, lambda context: peer_identity(context) or "")


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same kind that answers UNAUTHENTICATED without reading the request."""

    async def refuse(request: bytes, context: aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    async def refuse_stream(request: bytes, context: aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        yield  # pragma: no cover - abort raises

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(refuse)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse)
    return grpc.stream_stream_rpc_method_handler(refuse_stream)


def _as_caller(
    handler: grpc.RpcMethodHandler, caller_of: Callable[[aio.ServicerContext], str]
) -> grpc.RpcMethodHandler:
    """handler, run with current_caller() set to the caller_of(context) and its name on the server span."""

    def enter(context: aio.ServicerContext) -> None:
        caller = caller_of(context)
        _caller.set(caller)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(semconv.CALLER, caller)

    def streamed(inner: Any, make: Callable[..., grpc.RpcMethodHandler]) -> grpc.RpcMethodHandler:
        # A response stream, from one request or (bidirectional) from the request stream.
        async def each(request_or_iterator: Any, context: aio.ServicerContext) -> Any:
            enter(context)
            async for item in inner(request_or_iterator, context):
                yield item

        return make(each, handler.request_deserializer, handler.response_serializer)

    if handler.unary_unary is not None:
        inner: Any = handler.unary_unary

        async def unary_unary(request: Any, context: aio.ServicerContext) -> Any:
            enter(context)
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        return streamed(handler.unary_stream, grpc.unary_stream_rpc_method_handler)
    if handler.stream_stream is not None and inspect.isasyncgenfunction(handler.stream_stream):
        # A bidirectional call (ScoreStream): the caller is named once, for the whole call (its
        # token is checked when the call opens).
        return streamed(handler.stream_stream, grpc.stream_stream_rpc_method_handler)
    # Any other client-streaming RPC is refused until it is handled here.
    return _refusal(handler)
