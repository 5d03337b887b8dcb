"""The router's answers rendered for an OpenAI caller (the front door): completions and stream chunks."""

from __future__ import annotations

from typing import Any

from orchestrouter.router.model import JsonObject, RouteResult, StreamDelta, ToolCallDelta, Usage
from orchestrouter.router.openai_format.messages import tool_call_to_openai


def usage_to_openai(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion_to_openai(result: RouteResult, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """A "chat.completion" object for a routed answer; the caller may add fields to it."""
    # OpenAI's content is null, not "", on an answer that only calls tools.
    content = result.answer or None if result.tool_calls else result.answer
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if result.tool_calls:
        message["tool_calls"] = [tool_call_to_openai(c) for c in result.tool_calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": result.logprobs, "finish_reason": result.finish_reason or None}
        ],
        "usage": usage_to_openai(result.usage),
    }


def delta_to_openai(delta: StreamDelta) -> dict[str, Any]:
    """A chunk's choices[0].delta for a StreamDelta."""
    out: dict[str, Any] = {}
    if delta.text:
        out["content"] = delta.text
    if delta.tool_calls:
        out["tool_calls"] = [_tool_call_delta_to_openai(d) for d in delta.tool_calls]
    return out


def _tool_call_delta_to_openai(d: ToolCallDelta) -> dict[str, Any]:
    out: dict[str, Any] = {"index": d.index}
    function: dict[str, Any] = {}
    if d.id:
        out["id"] = d.id
        out["type"] = "function"
    if d.name:
        function["name"] = d.name
    if d.arguments or not d.id:
        function["arguments"] = d.arguments
    out["function"] = function
    return out


def chunk_to_openai(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    logprobs: JsonObject | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """A "chat.completion.chunk" object.

    delta: delta_to_openai(...) or {"role": "assistant"} for the first chunk; usage set and delta
    None: the final usage chunk (no choices), as OpenAI sends it when stream_options.include_usage.
    """
    chunk: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = usage_to_openai(usage)
    return chunk
