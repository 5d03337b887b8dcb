"""The OpenAI chat-completions JSON <-> the router's domain objects, in both directions.

One module for the one format: dispatch builds endpoint requests and reads their answers and
stream chunks with it; the OpenAI-compatible front door reads callers' requests and renders its
answers and chunks with it. Reading a caller's request checks only its shape (JSON types) and
raises InvalidArgument naming the field; the range and consistency checks (roles, n, penalties,
tool names...) are validation.py's, shared with the gRPC API. Reading an endpoint's answer raises
MalformedAnswer instead: a bad answer is the endpoint's failure, not the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrouter.router.model import (
    ChatTurn,
    ContentPart,
    GenerationParams,
    JsonObject,
    ResponseFormat,
    RouteResult,
    StreamDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)
from orchestrouter.runtime.errors import InvalidArgument

# Fields of a chat request that frame it rather than tune generation: never generation parameters,
# never passed through as extra ones (dispatch sets them itself).
FRAMING_FIELDS = frozenset({"model", "messages", "stream", "stream_options"})

# OpenAI's fields that GenerationParams types; any other field of a request is passed through in `extra`.
TYPED_PARAM_FIELDS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "max_completion_tokens",
        "n",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "logprobs",
        "top_logprobs",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "user",
        "reasoning_effort",
    }
)

# What GenerationParams.extra may not hold: it would override a typed parameter or the request itself.
RESERVED_EXTRA_FIELDS = FRAMING_FIELDS | TYPED_PARAM_FIELDS


class MalformedAnswer(ValueError):
    """The endpoint answered 200 with something that is not a chat completion (or chunk)."""


# ---------------------------------------------------------------------------------------------
# Shape checks of a caller's JSON: each raises InvalidArgument naming the field (`at`).


def json_from_text(text: str | bytes, at: str) -> Any:
    """Parsed JSON from a caller; InvalidArgument naming `at` when it is not strict JSON.

    NaN and Infinity (Python's extensions, which an endpoint would refuse) are not JSON here, and
    nesting deep enough to exhaust the parser is an error, not a crash.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:  # UnicodeDecodeError included
        raise InvalidArgument(f"{at} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument(f"{at} is nested too deeply") from None


def json_object_from_text(text: str | bytes, at: str) -> JsonObject:
    """json_from_text for a JSON object."""
    value = json_from_text(text, at)
    if not isinstance(value, dict):
        raise InvalidArgument(f"{at} must be a JSON object, got {_type_name(value)}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _object(value: Any, at: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{at} must be an object, got {_type_name(value)}")
    return value


def _array(value: Any, at: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(f"{at} must be an array, got {_type_name(value)}")
    return value


def _string(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{at} must be a string, got {_type_name(value)}")
    return value


def _optional_string(obj: Mapping[str, Any], key: str, at: str) -> str:
    value = obj.get(key)
    return "" if value is None else _string(value, f"{at}.{key}")


def _number(value: Any, at: str) -> float | None:
    if value is None:
        return None
    # bool is an int to Python, never a number to a JSON schema.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{at} must be a number, got {_type_name(value)}")
    return float(value)


def _integer(value: Any, at: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{at} must be an integer, got {_type_name(value)}")
    return value


def _boolean(value: Any, at: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidArgument(f"{at} must be true or false, got {_type_name(value)}")
    return value


def _optional_object(value: Any, at: str) -> JsonObject | None:
    return None if value is None else _object(value, at)


# ---------------------------------------------------------------------------------------------
# Messages.


def messages_from_openai(raw: Any) -> list[ChatTurn]:
    """A request's "messages" array as chat turns; unknown message fields (refusal, audio...) are ignored."""
    return [_turn_from_openai(item, f"messages[{i}]") for i, item in enumerate(_array(raw, "messages"))]


def _turn_from_openai(raw: Any, at: str) -> ChatTurn:
    obj = _object(raw, at)
    role = _string(obj.get("role"), f"{at}.role")
    content, parts = _content_from_openai(obj.get("content"), f"{at}.content")
    tool_calls = obj.get("tool_calls")
    return ChatTurn(
        role=role,
        content=content,
        parts=parts,
        name=_optional_string(obj, "name", at),
        tool_calls=()
        if tool_calls is None
        else tuple(
            _tool_call_from_openai(c, f"{at}.tool_calls[{i}]")
            for i, c in enumerate(_array(tool_calls, f"{at}.tool_calls"))
        ),
        tool_call_id=_optional_string(obj, "tool_call_id", at),
    )


def _content_from_openai(raw: Any, at: str) -> tuple[str, tuple[ContentPart, ...]]:
    if raw is None:  # an assistant turn that only calls tools
        return "", ()
    if isinstance(raw, str):
        return raw, ()
    if not isinstance(raw, list) or not raw:
        raise InvalidArgument(f"{at} must be a string or a non-empty array of content parts, got {_type_name(raw)}")
    parts = raw
    return "", tuple(_part_from_openai(p, f"{at}[{i}]") for i, p in enumerate(parts))


def _part_from_openai(raw: Any, at: str) -> ContentPart:
    obj = _object(raw, at)
    kind = _string(obj.get("type"), f"{at}.type")
    if kind == "text":
        return ContentPart.of_text(_string(obj.get("text"), f"{at}.text"))
    return ContentPart.opaque(obj)


def _tool_call_from_openai(raw: Any, at: str) -> ToolCall:
    obj = _object(raw, at)
    kind = obj.get("type", "function")
    if kind != "function":
        raise InvalidArgument(f'{at}.type must be "function", got {kind!r}')
    function = _object(obj.get("function"), f"{at}.function")
    return ToolCall(
        id=_string(obj.get("id"), f"{at}.id"),
        name=_string(function.get("name"), f"{at}.function.name"),
        arguments=_string(function.get("arguments"), f"{at}.function.arguments"),
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


# ---------------------------------------------------------------------------------------------
# Generation parameters.


def params_from_openai(body: Mapping[str, Any]) -> GenerationParams:
    """The generation parameters of a chat request body (its framing fields are not read).

    Fields GenerationParams does not type are kept in `extra` and passed to the endpoint as they
    came; a front door removes its own fields (the dial, say) before calling this.
    """
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    tools = body.get("tools")
    return GenerationParams(
        temperature=_number(body.get("temperature"), "temperature"),
        top_p=_number(body.get("top_p"), "top_p"),
        max_tokens=_integer(body.get("max_tokens"), "max_tokens"),
        stop=() if stop is None else tuple(_string(s, f"stop[{i}]") for i, s in enumerate(_array(stop, "stop"))),
        seed=_integer(body.get("seed"), "seed"),
        max_completion_tokens=_integer(body.get("max_completion_tokens"), "max_completion_tokens"),
        n=_integer(body.get("n"), "n"),
        tools=()
        if tools is None
        else tuple(_tool_from_openai(t, f"tools[{i}]") for i, t in enumerate(_array(tools, "tools"))),
        tool_choice=_tool_choice_from_openai(body.get("tool_choice")),
        parallel_tool_calls=_boolean(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        response_format=_response_format_from_openai(body.get("response_format")),
        logprobs=_boolean(body.get("logprobs"), "logprobs"),
        top_logprobs=_integer(body.get("top_logprobs"), "top_logprobs"),
        presence_penalty=_number(body.get("presence_penalty"), "presence_penalty"),
        frequency_penalty=_number(body.get("frequency_penalty"), "frequency_penalty"),
        logit_bias=_logit_bias_from_openai(body.get("logit_bias")),
        user=_optional_string(body, "user", "request"),
        reasoning_effort=_optional_string(body, "reasoning_effort", "request"),
        extra={k: v for k, v in body.items() if k not in RESERVED_EXTRA_FIELDS and v is not None},
    )


def _tool_from_openai(raw: Any, at: str) -> Tool:
    obj = _object(raw, at)
    kind = obj.get("type")
    if kind != "function":
        raise InvalidArgument(f'{at}.type must be "function" (the only tool type passed through), got {kind!r}')
    function = _object(obj.get("function"), f"{at}.function")
    return Tool(
        name=_string(function.get("name"), f"{at}.function.name"),
        description=_optional_string(function, "description", f"{at}.function"),
        parameters=_optional_object(function.get("parameters"), f"{at}.function.parameters"),
        strict=_boolean(function.get("strict"), f"{at}.function.strict"),
    )


def _tool_choice_from_openai(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return ToolChoice(mode=raw)
    obj = _object(raw, "tool_choice")
    if obj.get("type") != "function":
        raise InvalidArgument(f'tool_choice.type must be "function", got {obj.get("type")!r}')
    function = _object(obj.get("function"), "tool_choice.function")
    return ToolChoice(mode="function", function=_string(function.get("name"), "tool_choice.function.name"))


def _response_format_from_openai(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    obj = _object(raw, "response_format")
    kind = _string(obj.get("type"), "response_format.type")
    if kind != "json_schema":
        return ResponseFormat(type=kind)
    spec = _object(obj.get("json_schema"), "response_format.json_schema")
    return ResponseFormat(
        type=kind,
        schema_name=_string(spec.get("name"), "response_format.json_schema.name"),
        schema_description=_optional_string(spec, "description", "response_format.json_schema"),
        schema=_optional_object(spec.get("schema"), "response_format.json_schema.schema"),
        strict=_boolean(spec.get("strict"), "response_format.json_schema.strict"),
    )


def _logit_bias_from_openai(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    out: dict[str, float] = {}
    for token, bias in _object(raw, "logit_bias").items():
        value = _number(bias, f"logit_bias[{token!r}]")
        if value is None:
            raise InvalidArgument(f"logit_bias[{token!r}] must be a number, got null")
        out[str(token)] = value
    return out


def params_to_openai(params: GenerationParams) -> dict[str, Any]:
    """The request fields for params: only those set, the extra ones first (they never repeat a typed one)."""
    out: dict[str, Any] = dict(params.extra)
    for name in (
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "max_completion_tokens",
        "n",
        "parallel_tool_calls",
        "logprobs",
        "top_logprobs",
        "presence_penalty",
        "frequency_penalty",
    ):
        value = getattr(params, name)
        if value is not None:
            out[name] = value
    if params.stop:
        out["stop"] = list(params.stop)
    if params.tools:
        out["tools"] = [tool_to_openai(t) for t in params.tools]
    if params.tool_choice is not None:
        out["tool_choice"] = _tool_choice_to_openai(params.tool_choice)
    if params.response_format is not None:
        out["response_format"] = _response_format_to_openai(params.response_format)
    if params.logit_bias:
        # Whole biases as JSON integers, as OpenAI documents them (a strict endpoint may refuse 5.0).
        out["logit_bias"] = {t: int(b) if b.is_integer() else b for t, b in params.logit_bias.items()}
    if params.user:
        out["user"] = params.user
    if params.reasoning_effort:
        out["reasoning_effort"] = params.reasoning_effort
    return out


def tool_to_openai(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice_to_openai(choice: ToolChoice) -> Any:
    if choice.mode == "function":
        return {"type": "function", "function": {"name": choice.function}}
    return choice.mode


def _response_format_to_openai(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: dict[str, Any] = {"name": fmt.schema_name}
    if fmt.schema_description:
        spec["description"] = fmt.schema_description
    if fmt.schema is not None:
        spec["schema"] = fmt.schema
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


# ---------------------------------------------------------------------------------------------
# A caller's whole request (the front door's entry point).


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
    obj = _object(body, "request body")
    options = _optional_object(obj.get("stream_options"), "stream_options") or {}
    return ChatRequest(
        model=_optional_string(obj, "model", "request"),
        messages=messages_from_openai(obj.get("messages")),
        params=params_from_openai(obj),
        stream=bool(_boolean(obj.get("stream"), "stream")),
        include_usage=bool(_boolean(options.get("include_usage"), "stream_options.include_usage")),
    )


# ---------------------------------------------------------------------------------------------
# An endpoint's answers.


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
        obj = json.loads(data)
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
        obj = json.loads(payload)
        if "error" in obj:
            error = obj["error"]
            return ChatChunk(error=str(error.get("message") if isinstance(error, dict) else error)[:200])
        choices = obj.get("choices") or []
        delta, finish = StreamDelta(), ""
        if choices:
            raw = choices[0].get("delta") or {}
            delta = StreamDelta(
                text=_answer_text(raw.get("content")),
                tool_calls=tuple(_tool_call_delta(d) for d in raw.get("tool_calls") or ()),
                logprobs=_logprobs(choices[0].get("logprobs")),
            )
            finish = choices[0].get("finish_reason") or ""
        return ChatChunk(delta=delta, finish_reason=finish, usage=_usage_from_openai(obj.get("usage")))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise MalformedAnswer(f"not a chat completion chunk ({type(exc).__name__})") from None


def _tool_call_delta(raw: Any) -> ToolCallDelta:
    function = raw.get("function") or {}
    return ToolCallDelta(
        index=int(raw["index"]),
        id=str(raw.get("id") or ""),
        name=str(function.get("name") or ""),
        arguments=str(function.get("arguments") or ""),
    )


# ---------------------------------------------------------------------------------------------
# The router's answers, rendered for an OpenAI caller (the front door).


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
