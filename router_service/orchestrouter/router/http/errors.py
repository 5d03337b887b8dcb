"""errors: the one place where a failure becomes OpenAI's error JSON and an HTTP status.

Every error the front door answers goes through ``error_body``/``http_error``: the router's
exception classes each carry their gRPC status (runtime.errors), and STATUS_FOR_CODE maps that
status to the HTTP status and OpenAI error type an OpenAI SDK turns into its matching exception
(400 BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError,
429 RateLimitError, 5xx InternalServerError). Messages are runtime.errors.status_for's: caller-safe,
redacted and cut; never a traceback.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import grpc

from orchestrouter.runtime.errors import ServiceError, status_for


class ModelNotFound(ServiceError):
    """The request names a model the router does not serve."""

    code = grpc.StatusCode.NOT_FOUND


class PayloadTooLarge(ServiceError):
    """The request body is over the router's request limit (ORCHESTROUTER_ROUTER_MAX_REQUEST_BYTES)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class RequestTimeout(ServiceError):
    """The caller did not send its whole request body within the request's deadline (a slow or stalled client)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


@dataclass(frozen=True)
class HttpStatus:
    """HttpStatus: how one gRPC status is answered over HTTP: the status, OpenAI's error type and code."""

    status: int
    type: str
    code: str | None


# gRPC status -> what an OpenAI client expects for the same failure.
STATUS_FOR_CODE: dict[grpc.StatusCode, HttpStatus] = {
    grpc.StatusCode.INVALID_ARGUMENT: HttpStatus(400, "invalid_request_error", None),
    grpc.StatusCode.UNAUTHENTICATED: HttpStatus(401, "authentication_error", "invalid_api_key"),
    grpc.StatusCode.PERMISSION_DENIED: HttpStatus(403, "permission_error", "permission_denied"),
    grpc.StatusCode.NOT_FOUND: HttpStatus(404, "invalid_request_error", "model_not_found"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: HttpStatus(429, "rate_limit_error", "rate_limit_exceeded"),
    grpc.StatusCode.FAILED_PRECONDITION: HttpStatus(503, "server_error", "tier_not_configured"),
    grpc.StatusCode.UNAVAILABLE: HttpStatus(503, "server_error", "service_unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: HttpStatus(504, "timeout_error", "deadline_exceeded"),
    grpc.StatusCode.CANCELLED: HttpStatus(499, "server_error", "cancelled"),
}
INTERNAL = HttpStatus(500, "server_error", "internal_error")
# Limits the router's own HTTP layer enforces, beside the router's errors.
TOO_LARGE = HttpStatus(413, "invalid_request_error", "request_too_large")
BODY_TIMEOUT = HttpStatus(408, "invalid_request_error", "request_timeout")


@dataclass(frozen=True)
class HttpError:
    """HttpError: one error answer: status, OpenAI's error object and extra headers (Retry-After)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    def json_bytes(self) -> bytes:
        return json.dumps(self.body).encode()


def error_object(message: str, kind: HttpStatus, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error JSON: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": kind.type, "param": param, "code": kind.code}}


def http_error(exc: BaseException) -> HttpError:
    """The answer for an exception raised while handling a request (any exception: unknown ones are 500)."""
    code, message = status_for(exc)
    if isinstance(exc, PayloadTooLarge):
        kind = TOO_LARGE
    elif isinstance(exc, RequestTimeout):
        kind = BODY_TIMEOUT
    else:
        kind = STATUS_FOR_CODE.get(code, INTERNAL)
    headers: dict[str, str] = {}
    retry_after = exc.retry_after_s if isinstance(exc, ServiceError) else None
    if kind.status in (429, 503) and retry_after is not None and math.isfinite(retry_after):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    param = "model" if isinstance(exc, ModelNotFound) else None
    return HttpError(kind.status, error_object(message, kind, param), headers)


def http_refusal(status: int, message: str) -> HttpError:
    """The answer for a refusal of the HTTP layer itself (404 no such path, 405 wrong method)."""
    kind = HttpStatus(status, "invalid_request_error", {404: "not_found", 405: "method_not_allowed"}.get(status))
    return HttpError(status, error_object(message, kind), {})
