"""Request validation: clear INVALID_ARGUMENT messages before any work is done."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from orchestrouter.router.model import ChatTurn, GenerationParams, ResponseFormat, RouteInput
from orchestrouter.router.openai_format import RESERVED_EXTRA_FIELDS
from orchestrouter.runtime.errors import InvalidArgument

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_MESSAGES = 1000
MAX_STOP_SEQUENCES = 4
# OpenAI's own limits, checked here so a request that no endpoint would take fails before any work.
MAX_TOOLS = 128
MAX_TOP_LOGPROBS = 20
MAX_LOGIT_BIAS = 300
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOOL_CHOICE_MODES = frozenset({"none", "auto", "required", "function"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
REASONING_EFFORTS = frozenset({"minimal", "low", "medium", "high"})


def query_text(messages: Sequence[ChatTurn], max_chars: int) -> str:
    """The text that is scored: the last user message with text, cut to max_chars.

    A multi-part message's text is its text parts joined; its other parts (images, audio...) are
    passed to the endpoint but not scored.

    Earlier turns are left out on purpose: the router decides how hard the current ask is,
    and a long history would drown it (and cost embedding time).
    """
    for turn in reversed(messages):
        if turn.role == "user":
            text = turn.text
            if text.strip():
                return text[:max_chars]
    raise InvalidArgument("messages must include a non-empty user message")


def check_messages(messages: Sequence[ChatTurn]) -> None:
    if not messages:
        raise InvalidArgument("messages is empty")
    if len(messages) > MAX_MESSAGES:
        raise InvalidArgument(f"too many messages: {len(messages)} > {MAX_MESSAGES}")
    for i, turn in enumerate(messages):
        check_turn(turn, f"messages[{i}]")


def check_turn(turn: ChatTurn, at: str) -> None:
    if turn.role not in ROLES:
        raise InvalidArgument(f"{at}.role {turn.role!r} is not one of {', '.join(sorted(ROLES))}")
    if turn.tool_calls and turn.role != "assistant":
        raise InvalidArgument(f"{at} has tool_calls but role {turn.role!r}; only an assistant message calls tools")
    if turn.role == "tool" and not turn.tool_call_id:
        raise InvalidArgument(f"{at} has role 'tool' but no tool_call_id (the id of the call it answers)")
    if turn.tool_call_id and turn.role != "tool":
        raise InvalidArgument(f"{at} has a tool_call_id but role {turn.role!r}; only a tool message answers a call")
    if turn.content and turn.parts:
        raise InvalidArgument(f"{at} has both content text and content parts; send one of them")
    for j, part in enumerate(turn.parts):
        if not part.type:
            raise InvalidArgument(f"{at}.content[{j}] has no type")
    for j, call in enumerate(turn.tool_calls):
        if not call.id:
            raise InvalidArgument(f"{at}.tool_calls[{j}].id is empty")
        if call.type != "function":
            raise InvalidArgument(f"{at}.tool_calls[{j}].type must be 'function', got {call.type!r}")
        check_function_name(call.name, f"{at}.tool_calls[{j}].function.name")


def check_function_name(name: str, at: str) -> None:
    if not FUNCTION_NAME.fullmatch(name):
        raise InvalidArgument(f"{at} {name!r} must be 1 to 64 letters, digits, '_' or '-'")


def check_unit_interval(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidArgument(f"{name} must be in [0, 1], got {value}")


def check_params(params: GenerationParams) -> None:
    if params.temperature is not None and not (math.isfinite(params.temperature) and 0.0 <= params.temperature <= 2.0):
        raise InvalidArgument(f"params.temperature must be in [0, 2], got {params.temperature}")
    if params.top_p is not None and not (math.isfinite(params.top_p) and 0.0 < params.top_p <= 1.0):
        raise InvalidArgument(f"params.top_p must be in (0, 1], got {params.top_p}")
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(params, name)
        if value is not None and value < 1:
            raise InvalidArgument(f"params.{name} must be >= 1, got {value}")
    if len(params.stop) > MAX_STOP_SEQUENCES:
        raise InvalidArgument(f"params.stop has {len(params.stop)} sequences; at most {MAX_STOP_SEQUENCES}")
    if any(not s for s in params.stop):
        raise InvalidArgument("params.stop sequences must be non-empty")
    if params.n is not None and params.n != 1:
        raise InvalidArgument(f"params.n must be 1 (the router returns one answer per route), got {params.n}")
    for name in ("presence_penalty", "frequency_penalty"):
        value = getattr(params, name)
        if value is not None and not (math.isfinite(value) and -2.0 <= value <= 2.0):
            raise InvalidArgument(f"params.{name} must be in [-2, 2], got {value}")
    _check_logprobs(params)
    _check_tools(params)
    _check_response_format(params.response_format)
    if params.reasoning_effort and params.reasoning_effort not in REASONING_EFFORTS:
        raise InvalidArgument(
            f"params.reasoning_effort {params.reasoning_effort!r} is not one of {', '.join(sorted(REASONING_EFFORTS))}"
        )
    reserved = sorted(RESERVED_EXTRA_FIELDS.intersection(params.extra))
    if reserved:
        raise InvalidArgument(f"params.extra may not set {', '.join(reserved)}: use the typed fields")


def _check_logprobs(params: GenerationParams) -> None:
    if params.top_logprobs is not None:
        if not 0 <= params.top_logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidArgument(f"params.top_logprobs must be in [0, {MAX_TOP_LOGPROBS}], got {params.top_logprobs}")
        if not params.logprobs:
            raise InvalidArgument("params.top_logprobs needs params.logprobs set to true")
    if len(params.logit_bias) > MAX_LOGIT_BIAS:
        raise InvalidArgument(f"params.logit_bias has {len(params.logit_bias)} tokens; at most {MAX_LOGIT_BIAS}")
    for token, bias in params.logit_bias.items():
        if not token.isdigit():
            raise InvalidArgument(f"params.logit_bias key {token!r} must be a token id")
        if not (math.isfinite(bias) and -100.0 <= bias <= 100.0):
            raise InvalidArgument(f"params.logit_bias[{token!r}] must be in [-100, 100], got {bias}")


def _check_tools(params: GenerationParams) -> None:
    if len(params.tools) > MAX_TOOLS:
        raise InvalidArgument(f"params.tools has {len(params.tools)} tools; at most {MAX_TOOLS}")
    names = set()
    for i, tool in enumerate(params.tools):
        check_function_name(tool.name, f"params.tools[{i}].function.name")
        if tool.name in names:
            raise InvalidArgument(f"params.tools[{i}].function.name {tool.name!r} is defined twice")
        names.add(tool.name)
    choice = params.tool_choice
    if choice is None:
        return
    if choice.mode not in TOOL_CHOICE_MODES:
        modes = ", ".join(sorted(TOOL_CHOICE_MODES))
        raise InvalidArgument(f"params.tool_choice {choice.mode!r} is not one of {modes}")
    if choice.mode == "function" and choice.function not in names:
        raise InvalidArgument(f"params.tool_choice names function {choice.function!r}, which is not in params.tools")
    if choice.mode == "required" and not params.tools:
        raise InvalidArgument("params.tool_choice is 'required' but params.tools is empty")


def _check_response_format(fmt: ResponseFormat | None) -> None:
    if fmt is None:
        return
    if fmt.type not in RESPONSE_FORMATS:
        raise InvalidArgument(
            f"params.response_format.type {fmt.type!r} is not one of {', '.join(sorted(RESPONSE_FORMATS))}"
        )
    if fmt.type == "json_schema":
        check_function_name(fmt.schema_name, "params.response_format.json_schema.name")
        if fmt.schema is None:
            raise InvalidArgument("params.response_format.json_schema.schema is missing")
    elif fmt.schema_name or fmt.schema is not None:
        raise InvalidArgument(f"params.response_format of type {fmt.type!r} takes no json_schema")


def build_route_input(
    messages: Sequence[ChatTurn],
    threshold: float | None,
    premium_share: float | None,
    dry_run: bool,
    params: GenerationParams,
    max_prompt_chars: int,
    caller: str = "",
) -> RouteInput:
    check_messages(messages)
    check_unit_interval("threshold", threshold)
    check_unit_interval("premium_share", premium_share)
    check_params(params)
    return RouteInput(
        messages=tuple(messages),
        query=query_text(messages, max_prompt_chars),
        threshold=threshold,
        premium_share=premium_share,
        dry_run=dry_run,
        params=params,
        caller=caller,
    )
