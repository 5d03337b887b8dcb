"""A caller's whole chat request (the front door's entry point)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrouter.router.model import ChatTurn, GenerationParams
from orchestrouter.router.openai_format.json_shape import boolean_at, object_at, optional_object, optional_string
from orchestrouter.router.openai_format.messages import messages_from_openai
from orchestrouter.router.openai_format.params import params_from_openai


@dataclass(frozen=True)
class ChatRequest:
    """ChatRequest: a caller's chat request as the router reads it."""

    model: str
    messages: list[ChatTurn]
    params: GenerationParams
    stream: bool
    # stream_options.include_usage: the stream ends with a usage chunk.
    include_usage: bool


def chat_request_from_openai(body: Any) -> ChatRequest:
    """A chat-completions request body (parsed JSON) as messages, params and its stream flags."""
    obj = object_at(body, "request body")
    options = optional_object(obj.get("stream_options"), "stream_options") or {}
    return ChatRequest(
        model=optional_string(obj, "model", "request"),
        messages=messages_from_openai(obj.get("messages")),
        params=params_from_openai(obj),
        stream=bool(boolean_at(obj.get("stream"), "stream")),
        include_usage=bool(boolean_at(options.get("include_usage"), "stream_options.include_usage")),
    )
