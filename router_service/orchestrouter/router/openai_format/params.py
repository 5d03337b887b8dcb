"""Generation parameters: a chat request's tuning fields <-> GenerationParams (the rest passed through in `extra`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrouter.router.model import GenerationParams, ResponseFormat, Tool, ToolChoice
from orchestrouter.router.openai_format.json_shape import (
    array_at,
    boolean_at,
    integer_at,
    number_at,
    object_at,
    optional_object,
    optional_string,
    string_at,
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
        temperature=number_at(body.get("temperature"), "temperature"),
        top_p=number_at(body.get("top_p"), "top_p"),
        max_tokens=integer_at(body.get("max_tokens"), "max_tokens"),
        stop=() if stop is None else tuple(string_at(s, f"stop[{i}]") for i, s in enumerate(array_at(stop, "stop"))),
        seed=integer_at(body.get("seed"), "seed"),
        max_completion_tokens=integer_at(body.get("max_completion_tokens"), "max_completion_tokens"),
        n=integer_at(body.get("n"), "n"),
        tools=()
        if tools is None
        else tuple(_tool_from_openai(t, f"tools[{i}]") for i, t in enumerate(array_at(tools, "tools"))),
        tool_choice=_tool_choice_from_openai(body.get("tool_choice")),
        parallel_tool_calls=boolean_at(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        response_format=_response_format_from_openai(body.get("response_format")),
        logprobs=boolean_at(body.get("logprobs"), "logprobs"),
        top_logprobs=integer_at(body.get("top_logprobs"), "top_logprobs"),
        presence_penalty=number_at(body.get("presence_penalty"), "presence_penalty"),
        frequency_penalty=number_at(body.get("frequency_penalty"), "frequency_penalty"),
        logit_bias=_logit_bias_from_openai(body.get("logit_bias")),
        user=optional_string(body, "user", "request"),
        reasoning_effort=optional_string(body, "reasoning_effort", "request"),
        extra={k: v for k, v in body.items() if k not in RESERVED_EXTRA_FIELDS and v is not None},
    )


def _tool_from_openai(raw: Any, at: str) -> Tool:
    obj = object_at(raw, at)
    kind = obj.get("type")
    if kind != "function":
        raise InvalidArgument(f'{at}.type must be "function" (the only tool type passed through), got {kind!r}')
    function = object_at(obj.get("function"), f"{at}.function")
    return Tool(
        name=string_at(function.get("name"), f"{at}.function.name"),
        description=optional_string(function, "description", f"{at}.function"),
        parameters=optional_object(function.get("parameters"), f"{at}.function.parameters"),
        strict=boolean_at(function.get("strict"), f"{at}.function.strict"),
    )


def _tool_choice_from_openai(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return ToolChoice(mode=raw)
    obj = object_at(raw, "tool_choice")
    if obj.get("type") != "function":
        raise InvalidArgument(f'tool_choice.type must be "function", got {obj.get("type")!r}')
    function = object_at(obj.get("function"), "tool_choice.function")
    return ToolChoice(mode="function", function=string_at(function.get("name"), "tool_choice.function.name"))


def _response_format_from_openai(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    obj = object_at(raw, "response_format")
    kind = string_at(obj.get("type"), "response_format.type")
    if kind != "json_schema":
        return ResponseFormat(type=kind)
    spec = object_at(obj.get("json_schema"), "response_format.json_schema")
    return ResponseFormat(
        type=kind,
        schema_name=string_at(spec.get("name"), "response_format.json_schema.name"),
        schema_description=optional_string(spec, "description", "response_format.json_schema"),
        schema=optional_object(spec.get("schema"), "response_format.json_schema.schema"),
        strict=boolean_at(spec.get("strict"), "response_format.json_schema.strict"),
    )


def _logit_bias_from_openai(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    out: dict[str, float] = {}
    for token, bias in object_at(raw, "logit_bias").items():
        value = number_at(bias, f"logit_bias[{token!r}]")
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
