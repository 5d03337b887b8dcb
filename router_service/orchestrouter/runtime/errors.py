"""Domain errors and the one place that maps them to gRPC status codes."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from orchestrouter.runtime.redaction import redact
from orchestrouter.runtime.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)

UNDECODABLE_MESSAGE = "request could not be decoded"
# A message may quote the caller's input: cut it well inside gRPC's 16 KiB metadata limit, past which
# the caller would see RESOURCE_EXHAUSTED "Stream removed" instead of the status meant.
MAX_DETAILS_CHARS = 1000


# gRPC's retry pushback (gRFC A6): a reply whose trailers carry a negative value tells the caller's
# retry policy not to try the call again.
NO_RETRY_PUSHBACK = (("grpc-retry-pushback-ms", "-1"),)


class ServiceError(Exception):
    """A failure whose message is safe to show the caller."""

    code = grpc.StatusCode.INTERNAL
    # False when the service has already retried what a client's retry would (dispatch tried each
    # tier with its own retries): the reply then carries NO_RETRY_PUSHBACK, so that gRPC clients
    # retrying UNAVAILABLE do not multiply the model calls behind one request.
    client_may_retry = True
    # Seconds after which the caller may try again, when known (a rate-limited endpoint's Retry-After).
    retry_after_s: float | None = None


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    """The caller is known but not allowed this action (its caller policy forbids it)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ServiceError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class ResourceExhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class NotFound(ServiceError):
    """The thing the request names does not exist (a request id the traffic store does not hold)."""

    code = grpc.StatusCode.NOT_FOUND


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and caller-safe message for an exception raised by a handler.

    A ServiceError's message may quote a peer (an endpoint's error body), so it is redacted here,
    the one way out to callers and to the decision log.
    """
    if isinstance(exc, ServiceError):
        # Masked before it is cut, so no part of a secret survives the cut. A peer's text may hold
        # a lone surrogate, which gRPC cannot encode (the call would hang to its deadline): "?".
        return exc.code, _cut(redact(str(exc))).encode("utf-8", "replace").decode("utf-8")
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
    return grpc.StatusCode.INTERNAL, "internal error"


def _cut(message: str) -> str:
    return message if len(message) <= MAX_DETAILS_CHARS else message[: MAX_DETAILS_CHARS - 3] + "..."


class Undecodable:
    """Undecodable: what a handler receives instead of a request whose bytes did not decode.

    gRPC would answer UNKNOWN with the parser's class name and log a traceback per request; the
    handler answers INVALID_ARGUMENT instead, and the server logs one warning per interval.
    """

    __slots__ = ()


UNDECODABLE = Undecodable()


def tolerant_deserializer(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """tolerant_deserializer: deserializer, returning UNDECODABLE rather than raising on bad bytes."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - DecodeError, and whatever a parser may raise on hostile bytes
            return UNDECODABLE

    return deserialize


class ErrorMappingInterceptor(aio.ServerInterceptor):
    """Turns exceptions escaping a servicer into a status, never a stack trace to the caller.

    Requests that do not decode become INVALID_ARGUMENT before the servicer sees them.
    """

    def __init__(self) -> None:
        self.undecodable = ThrottledWarning(log, "requests that could not be decoded were refused")

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary_unary(request, context):
                await self._refuse_undecodable(request, context, method)
                try:
                    return await inner(request, context)
                except Exception as exc:  # noqa: BLE001 - this is the mapping point
                    await _abort(context, method, exc)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            inner_stream = handler.unary_stream

            async def unary_stream(request, context):
                await self._refuse_undecodable(request, context, method)
                try:
                    async for item in inner_stream(request, context):
                        yield item
                except Exception as exc:  # noqa: BLE001 - this is the mapping point
                    await _abort(context, method, exc)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=tolerant_deserializer(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:  # writes through context (health's Watch): decoding only
            return self._writer_handler(handler, method)
        return handler

    def _writer_handler(self, handler: Any, method: str) -> Any:
        """A unary-stream handler that writes through context (health's Watch): its requests too must decode."""
        inner = handler.unary_stream

        async def unary_stream(request, context):
            await self._refuse_undecodable(request, context, method)
            return await inner(request, context)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=tolerant_deserializer(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )

    async def _refuse_undecodable(self, request: Any, context: aio.ServicerContext, method: str) -> None:
        if request is UNDECODABLE:
            self.undecodable(method)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_MESSAGE)


async def _abort(context: aio.ServicerContext, method: str, exc: Exception) -> None:
    # context.abort raises AbortError itself; let it propagate untouched.
    if isinstance(exc, aio.AbortError):
        raise exc
    code, message = status_for(exc)
    if code == grpc.StatusCode.INTERNAL:
        log.exception("unhandled error in %s", method)
    final = isinstance(exc, ServiceError) and not exc.client_may_retry
    await context.abort(code, message, NO_RETRY_PUSHBACK if final else ())
