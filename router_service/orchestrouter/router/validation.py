"""Request validation: clear INVALID_ARGUMENT messages before any work is done."""

from __future__ import annotations

import math
from collections.abc import Sequence

from orchestrouter.router.model import ChatTurn, GenerationParams, RouteInput
from orchestrouter.runtime.errors import InvalidArgument

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_MESSAGES = 1000
MAX_STOP_SEQUENCES = 4


def query_text(messages: Sequence[ChatTurn], max_chars: int) -> str:
    """The text that is scored: the last user message, cut to max_chars.

    Earlier turns are left out on purpose: the router decides how hard the current ask is,
    and a long history would drown it (and cost embedding time).
    """
    for turn in reversed(messages):
        if turn.role == "user" and turn.content.strip():
            return turn.content[:max_chars]
    raise InvalidArgument("messages must include a non-empty user message")


def check_messages(messages: Sequence[ChatTurn]) -> None:
    if not messages:
        raise InvalidArgument("messages is empty")
    if len(messages) > MAX_MESSAGES:
        raise InvalidArgument(f"too many messages: {len(messages)} > {MAX_MESSAGES}")
    for i, turn in enumerate(messages):
        if turn.role not in ROLES:
            raise InvalidArgument(f"messages[{i}].role {turn.role!r} is not one of {', '.join(sorted(ROLES))}")


def check_unit_interval(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidArgument(f"{name} must be in [0, 1], got {value}")


def check_params(params: GenerationParams) -> None:
    if params.temperature is not None and not (math.isfinite(params.temperature) and 0.0 <= params.temperature <= 2.0):
        raise InvalidArgument(f"params.temperature must be in [0, 2], got {params.temperature}")
    if params.top_p is not None and not (math.isfinite(params.top_p) and 0.0 < params.top_p <= 1.0):
        raise InvalidArgument(f"params.top_p must be in (0, 1], got {params.top_p}")
    if params.max_tokens is not None and params.max_tokens < 1:
        raise InvalidArgument(f"params.max_tokens must be >= 1, got {params.max_tokens}")
    if len(params.stop) > MAX_STOP_SEQUENCES:
        raise InvalidArgument(f"params.stop has {len(params.stop)} sequences; at most {MAX_STOP_SEQUENCES}")
    if any(not s for s in params.stop):
        raise InvalidArgument("params.stop sequences must be non-empty")


def build_route_input(
    messages: Sequence[ChatTurn],
    threshold: float | None,
    premium_share: float | None,
    dry_run: bool,
    params: GenerationParams,
    max_prompt_chars: int,
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
    )
