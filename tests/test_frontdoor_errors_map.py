"""The one mapping from the router's errors to OpenAI's error JSON: each exception class, by the gRPC
status it carries, gets the HTTP status and error type the OpenAI SDKs turn into their own exception."""

from __future__ import annotations

import pytest

from orchestrouter.router.http.errors import ModelNotFound, PayloadTooLarge, http_error, http_refusal
from orchestrouter.runtime import redaction
from orchestrouter.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)


@pytest.mark.parametrize(
    "exc, status, kind, code",
    [
        (InvalidArgument("messages is empty"), 400, "invalid_request_error", None),
        (Unauthenticated("missing or invalid bearer token"), 401, "authentication_error", "invalid_api_key"),
        (PermissionDenied("caller batch may not set the routing dial"), 403, "permission_error", "permission_denied"),
        (ModelNotFound("no such model"), 404, "invalid_request_error", "model_not_found"),
        (PayloadTooLarge("too large"), 413, "invalid_request_error", "request_too_large"),
        (ResourceExhausted("both tiers rate-limited"), 429, "rate_limit_error", "rate_limit_exceeded"),
        (Unavailable("premium endpoint answered 500"), 503, "server_error", "service_unavailable"),
        (FailedPrecondition("no endpoint configured"), 503, "server_error", "tier_not_configured"),
        (DeadlineExceeded("deadline exceeded while scoring"), 504, "timeout_error", "deadline_exceeded"),
        (TimeoutError(), 504, "timeout_error", "deadline_exceeded"),
        (RuntimeError("secret internals"), 500, "server_error", "internal_error"),
    ],
)
def test_each_error_gets_its_http_status_and_openai_type(exc, status, kind, code):
    error = http_error(exc)
    assert error.status == status
    assert error.body["error"]["type"] == kind and error.body["error"]["code"] == code
    assert set(error.body["error"]) == {"message", "type", "param", "code"}
    # An unexpected exception never shows its text; a service error shows its caller-safe message.
    assert error.body["error"]["message"] == ("internal error" if status == 500 else status_message(exc, status))


def status_message(exc: BaseException, status: int) -> str:
    return "deadline exceeded" if isinstance(exc, TimeoutError) else str(exc)


def test_retry_after_is_sent_when_known_rounded_up_to_whole_seconds():
    limited = ResourceExhausted("rate-limited")
    assert http_error(limited).headers == {}
    limited.retry_after_s = 2.2
    assert http_error(limited).headers == {"Retry-After": "3"}
    invalid = InvalidArgument("bad")
    invalid.retry_after_s = 5
    assert http_error(invalid).headers == {}, "only a 429 or 503 says when to retry"


def test_a_message_quoting_a_secret_is_redacted_and_cut():
    redaction.register_secrets("sk-map-test-7f3a9c1e5b2d4680")
    error = http_error(Unavailable("endpoint said: bad key sk-map-test-7f3a9c1e5b2d4680 " + "x" * 5000))
    assert "sk-map-test-7f3a9c1e5b2d4680" not in error.body["error"]["message"]
    assert len(error.body["error"]["message"]) <= 1000


def test_the_http_layers_own_refusals():
    assert http_refusal(404, "Not Found: POST /v1/x").body["error"]["code"] == "not_found"
    assert http_refusal(405, "Method Not Allowed").status == 405
