"""An endpoint's answers: a chat completion, or one chunk of a streamed one.

A bad answer raises MalformedAnswer, never InvalidArgument: it is the endpoint's failure, not the caller's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from orchestrouter.router.model import JsonObject, StreamDelta, ToolCall, ToolCallDelta

# A \u escape of a UTF-16 surrogate; a lone one decodes to a str that neither UTF-8 nor protobuf carries.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads(data: bytes | str) -> Any:
    """The endpoint's JSON with each lone surrogate (a half of a pair, which some servers emit when a
    token splits an emoji) replaced by U+FFFD, so the answer can still be sent, logged and stored."""
    obj = json.loads(data)
    escaped = _SURROGATE_ESCAPE_BYTES.search(data) if isinstance(data, bytes) else _SURROGATE_ESCAPE.search(data)
    if escaped is None:
        return obj
    # Surrogates can only be inside strings: replacing them in the re-encoded text keeps it valid JSON.
    return json.loads(_LONE_SURROGATE.sub("\ufffd", json.dumps(obj, ensure_ascii=False)))


class MalformedAnswer(ValueError):
    """The endpoint answered 200 with something that is not a chat completion (or chunk)."""


@dataclass(frozen=True)
class TokenUsage:
    """TokenUsage: token counts as the endpoint reported them (not yet priced)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ChatAnswer:
    """ChatAnswer: a non-streamed chat completion's first choice."""

    text: str
    finish_reason: str
    usage: TokenUsage | None
    model: str
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: JsonObject | None = None


@dataclass(frozen=True)
class ChatChunk:
    """ChatChunk: one server-sent event of a streamed chat completion."""

    delta: StreamDelta = StreamDelta()
    finish_reason: str = ""
    usage: TokenUsage | None = None
    error: str = ""

    @property
    def starts_answer(self) -> bool:
        """Whether the chunk carries any of the answer (a role-only first chunk does not)."""
        return not self.delta.empty or bool(self.finish_reason)


def _usage_from_openai(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, dict):
        return None
    return TokenUsage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def _logprobs(raw: Any) -> JsonObject | None:
    return raw if isinstance(raw, dict) else None


def parse_answer(data: bytes, fallback_model: str) -> ChatAnswer:
    """An endpoint's JSON answer; MalformedAnswer when it is not a chat completion."""
    try:
        obj = _loads(data)
        choice = obj["choices"][0]
        message = choice["message"]
        return ChatAnswer(
            text=_answer_text(message.get("content")),
            finish_reason=choice.get("finish_reason") or "",
            usage=_usage_from_openai(obj.get("usage")),
            model=obj.get("model") or fallback_model,
            tool_calls=tuple(_answer_tool_call(c) for c in message.get("tool_calls") or ()),
            logprobs=_logprobs(choice.get("logprobs")),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
        raise MalformedAnswer(f"not a chat completion ({type(exc).__name__})") from None


def _answer_text(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise TypeError("content is not a string")
    return raw


def _answer_tool_call(raw: Any) -> ToolCall:
    function = raw["function"]
    arguments = function.get("arguments")
    return ToolCall(
        id=str(raw["id"]),
        name=str(function["name"]),
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
        type=str(raw.get("type") or "function"),
    )


def parse_chunk(payload: str) -> ChatChunk:
    """One `data:` payload of an endpoint's stream ("[DONE]" is the reader's to handle)."""
    try:
        obj = _loads(payload)
        if "error" in obj:
            error = obj["error"]
            return ChatChunk(error=str(error.get("message") if isinstance(error, dict) else error)[:200])
        choices = obj.get("choices") or []
        delta, finish = StreamDelta(), ""
        if choices:
            raw = choices[0].get("delta") or {}
            delta = StreamDelta(
                text=_answer_text(raw.get("content")),
                tool_calls=tuple(_tool_call_delta(d, i) for i, d in enumerate(raw.get("tool_calls") or ())),
                logprobs=_logprobs(choices[0].get("logprobs")),
            )
            finish = choices[0].get("finish_reason") or ""
        return ChatChunk(delta=delta, finish_reason=finish, usage=_usage_from_openai(obj.get("usage")))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise MalformedAnswer(f"not a chat completion chunk ({type(exc).__name__})") from None


def _tool_call_delta(raw: Any, position: int) -> ToolCallDelta:
    function = raw.get("function") or {}
    index = raw.get("index")
    return ToolCallDelta(
        # OpenAI always sends the index; a server that leaves it out is read by position, not failed.
        index=position if index is None else int(index),
        id=str(raw.get("id") or ""),
        name=str(function.get("name") or ""),
        arguments=str(function.get("arguments") or ""),
    )
