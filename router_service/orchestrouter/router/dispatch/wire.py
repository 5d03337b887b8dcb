"""An endpoint call's HTTP: its request body, error bodies and Retry-After (the JSON itself: openai_format)."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Sequence
from typing import Any

from orchestrouter.router import openai_format
from orchestrouter.router.model import ChatTurn, GenerationParams
from orchestrouter.runtime.redaction import redact

# Bytes of an error answer's body that are read for its message.
MAX_ERROR_BODY = 4096


def request_body(model: str, messages: Sequence[ChatTurn], params: GenerationParams, stream: bool) -> bytes:
    body: dict[str, Any] = {
        **openai_format.params_to_openai(params),
        "model": model,
        "messages": openai_format.messages_to_openai(messages),
    }
    if stream:
        body["stream"] = True
        # Without this the endpoint sends no usage on streams, and the cost would be unknown.
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


def error_detail(data: bytes) -> str:
    """The message of an OpenAI-style error body, cut short; empty when there is none."""
    try:
        error = json.loads(data[:MAX_ERROR_BODY]).get("error")
    except (ValueError, AttributeError, RecursionError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    # Masked before it is cut, so a key that an endpoint echoes cannot leak even in part.
    return redact(str(message))[:200] if message else ""


def retry_after_s(headers: Any, now: float | None = None) -> float | None:
    """Retry-After (seconds or an HTTP date) or OpenAI's retry-after-ms, in seconds; None if absent."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
