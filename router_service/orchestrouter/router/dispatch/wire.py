"""The OpenAI chat-completions wire format: request bodies, answers, stream chunks, Retry-After."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrouter.router.model import ChatTurn, GenerationParams
from orchestrouter.runtime.redaction import redact

# Bytes of an error answer's body that are read for its message.
MAX_ERROR_BODY = 4096


class MalformedAnswer(ValueError):
    """The endpoint answered 200 with something that is not a chat completion."""


@dataclass(frozen=True)
class WireUsage:
    """WireUsage: token counts as the endpoint reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class WireAnswer:
    """WireAnswer: a non-streamed chat completion."""

    text: str
    finish_reason: str
    usage: WireUsage | None
    model: str


@dataclass(frozen=True)
class WireChunk:
    """WireChunk: one server-sent event of a streamed chat completion."""

    text: str = ""
    finish_reason: str = ""
    usage: WireUsage | None = None
    error: str = ""


def request_body(model: str, messages: Sequence[ChatTurn], params: GenerationParams, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        **params.as_openai_kwargs(),
    }
    if stream:
        body["stream"] = True
        # Without this the endpoint sends no usage on streams, and the cost would be unknown.
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


def _usage(raw: Any) -> WireUsage | None:
    if not isinstance(raw, dict):
        return None
    return WireUsage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def parse_answer(data: bytes, fallback_model: str) -> WireAnswer:
    try:
        obj = json.loads(data)
        choice = obj["choices"][0]
        return WireAnswer(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "",
            usage=_usage(obj.get("usage")),
            model=obj.get("model") or fallback_model,
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"not a chat completion ({type(exc).__name__})") from None


def parse_chunk(payload: str) -> WireChunk:
    """One `data:` payload of the stream ("[DONE]" is handled by the reader)."""
    try:
        obj = json.loads(payload)
        if "error" in obj:
            error = obj["error"]
            return WireChunk(error=str(error.get("message") if isinstance(error, dict) else error)[:200])
        choices = obj.get("choices") or []
        text, finish = "", ""
        if choices:
            delta = choices[0].get("delta") or {}
            text = delta.get("content") or ""
            finish = choices[0].get("finish_reason") or ""
        return WireChunk(text=text, finish_reason=finish, usage=_usage(obj.get("usage")))
    except (ValueError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"not a chat completion chunk ({type(exc).__name__})") from None


def error_detail(data: bytes) -> str:
    """The message of an OpenAI-style error body, cut short; empty when there is none."""
    try:
        error = json.loads(data[:MAX_ERROR_BODY]).get("error")
    except (ValueError, AttributeError):
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
