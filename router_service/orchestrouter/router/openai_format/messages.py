"""Chat messages: OpenAI's "messages" array <-> ChatTurn, content parts and tool calls included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrouter.router.model import ChatTurn, ContentPart, ToolCall
from orchestrouter.router.openai_format.json_shape import array_at, object_at, optional_string, string_at, type_name
from orchestrouter.runtime.errors import InvalidArgument


def messages_from_openai(raw: Any) -> list[ChatTurn]:
    """A request's "messages" array as chat turns; unknown message fields (refusal, audio...) are ignored."""
    return [_turn_from_openai(item, f"messages[{i}]") for i, item in enumerate(array_at(raw, "messages"))]


def _turn_from_openai(raw: Any, at: str) -> ChatTurn:
    obj = object_at(raw, at)
    role = string_at(obj.get("role"), f"{at}.role")
    content, parts = _content_from_openai(obj.get("content"), f"{at}.content")
    tool_calls = obj.get("tool_calls")
    return ChatTurn(
        role=role,
        content=content,
        parts=parts,
        name=optional_string(obj, "name", at),
        tool_calls=()
        if tool_calls is None
        else tuple(
            _tool_call_from_openai(c, f"{at}.tool_calls[{i}]")
            for i, c in enumerate(array_at(tool_calls, f"{at}.tool_calls"))
        ),
        tool_call_id=optional_string(obj, "tool_call_id", at),
    )


def _content_from_openai(raw: Any, at: str) -> tuple[str, tuple[ContentPart, ...]]:
    if raw is None:  # an assistant turn that only calls tools
        return "", ()
    if isinstance(raw, str):
        return raw, ()
    if not isinstance(raw, list) or not raw:
        raise InvalidArgument(f"{at} must be a string or a non-empty array of content parts, got {type_name(raw)}")
    parts = raw
    return "", tuple(_part_from_openai(p, f"{at}[{i}]") for i, p in enumerate(parts))


def _part_from_openai(raw: Any, at: str) -> ContentPart:
    obj = object_at(raw, at)
    kind = string_at(obj.get("type"), f"{at}.type")
    if kind == "text":
        return ContentPart.of_text(string_at(obj.get("text"), f"{at}.text"))
    return ContentPart.opaque(obj)


def _tool_call_from_openai(raw: Any, at: str) -> ToolCall:
    obj = object_at(raw, at)
    kind = obj.get("type", "function")
    if kind != "function":
        raise InvalidArgument(f'{at}.type must be "function", got {kind!r}')
    function = object_at(obj.get("function"), f"{at}.function")
    return ToolCall(
        id=string_at(obj.get("id"), f"{at}.id"),
        name=string_at(function.get("name"), f"{at}.function.name"),
        arguments=string_at(function.get("arguments"), f"{at}.function.arguments"),
    )


def messages_to_openai(messages: Sequence[ChatTurn]) -> list[dict[str, Any]]:
    return [turn_to_openai(m) for m in messages]


def turn_to_openai(turn: ChatTurn) -> dict[str, Any]:
    out: dict[str, Any] = {"role": turn.role}
    if turn.parts:
        out["content"] = [_part_to_openai(p) for p in turn.parts]
    elif turn.content or not turn.tool_calls:
        out["content"] = turn.content
    else:
        out["content"] = None  # OpenAI's form of an assistant turn that only calls tools
    if turn.name:
        out["name"] = turn.name
    if turn.tool_calls:
        out["tool_calls"] = [tool_call_to_openai(c) for c in turn.tool_calls]
    if turn.tool_call_id:
        out["tool_call_id"] = turn.tool_call_id
    return out


def _part_to_openai(part: ContentPart) -> Any:
    if part.data is not None:
        return part.data
    return {"type": "text", "text": part.text}


def tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": call.type, "function": {"name": call.name, "arguments": call.arguments}}
