"""chat: an OpenAI chat-completions request as the router's RouteInput, and the answer as OpenAI's JSON.

The body's shape is read, and the answer rendered, by router.openai_format (the one mapping of
OpenAI's chat JSON, which dispatch uses too); this module adds what only the front door knows:
``model`` (AUTO_MODEL, or a tier's model to pin that tier) and the dial, either in headers
(``x-orchestrouter-threshold`` or ``x-orchestrouter-premium-share``) or in the body as
``"orchestrouter": {"threshold": ...}`` (the OpenAI SDKs' ``extra_body``), removed before the body is
read so it never reaches an endpoint. The caller's policy decides whether it may set the dial (403
otherwise). An answer's ``id`` is the router's request id, ``model`` the model that answered and
``system_fingerprint`` the router model's version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrouter.router import openai_format
from orchestrouter.router.http import headers as dial_headers
from orchestrouter.router.http.models import ModelCatalog
from orchestrouter.router.model import Decision, RouteInput, RouteResult, StreamDelta
from orchestrouter.router.validation import build_route_input
from orchestrouter.runtime.errors import InvalidArgument

# The body's own object for what only the router reads.
ROUTER_FIELD = "orchestrouter"
DIAL_FIELDS = ("threshold", "premium_share")


@dataclass(frozen=True)
class ChatCall:
    """ChatCall: a caller's chat request as the RouteInput to route, and how it wants the answer."""

    inp: RouteInput
    stream: bool
    include_usage: bool


def parse_chat_request(
    body: Any, headers: Mapping[str, str], caller: str, catalog: ModelCatalog, max_prompt_chars: int
) -> ChatCall:
    """The ChatCall of a decoded JSON body; InvalidArgument says what is wrong, ModelNotFound an unknown model."""
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    threshold, premium_share = _dial(body.pop(ROUTER_FIELD, None), headers)
    request = openai_format.chat_request_from_openai(body)
    pinned = catalog.pinned_tier(request.model or None)
    inp = build_route_input(request.messages, threshold, premium_share, False, request.params, max_prompt_chars)
    return ChatCall(
        dataclasses.replace(inp, caller=caller, pinned_tier=pinned),
        stream=request.stream,
        include_usage=request.stream and request.include_usage,
    )


def _dial(extra: Any, headers: Mapping[str, str]) -> tuple[float | None, float | None]:
    threshold, premium_share = dial_headers.dial_from_headers(headers)
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise InvalidArgument(f"{ROUTER_FIELD} must be an object with threshold or premium_share")
    unknown = sorted(set(extra) - set(DIAL_FIELDS))
    if unknown:
        raise InvalidArgument(f"{ROUTER_FIELD}.{unknown[0]} is not known (known: {', '.join(DIAL_FIELDS)})")
    threshold = _number(extra, "threshold", threshold)
    premium_share = _number(extra, "premium_share", premium_share)
    if threshold is not None and premium_share is not None:
        raise InvalidArgument("set the threshold or the premium share, not both")
    return threshold, premium_share


def _number(obj: dict[str, Any], name: str, default: float | None) -> float | None:
    value = obj.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{ROUTER_FIELD}.{name} must be a number")
    return float(value)


def completion_body(result: RouteResult, created: int) -> dict[str, Any]:
    """The chat.completion object of a unary answer."""
    body = openai_format.completion_to_openai(result, result.request_id, created, result.decision.model)
    body["system_fingerprint"] = result.decision.router_version or None
    return body


class ChunkWriter:
    """ChunkWriter: the chat.completion.chunk objects of one streamed answer (same id, created and model)."""

    def __init__(self, request_id: str, decision: Decision, created: int) -> None:
        self._id, self._created, self._model = request_id, created, decision.model
        self._fingerprint = decision.router_version or None

    def _chunk(self, **fields: Any) -> dict[str, Any]:
        chunk = openai_format.chunk_to_openai(self._id, self._created, self._model, **fields)
        chunk["system_fingerprint"] = self._fingerprint
        return chunk

    def first(self) -> dict[str, Any]:
        return self._chunk(delta={"role": "assistant", "content": ""})

    def delta(self, delta: StreamDelta) -> dict[str, Any]:
        return self._chunk(delta=openai_format.delta_to_openai(delta), logprobs=delta.logprobs)

    def last(self, result: RouteResult) -> dict[str, Any]:
        return self._chunk(delta={}, finish_reason=result.finish_reason or "stop")

    def usage(self, result: RouteResult) -> dict[str, Any]:
        """The final chunk stream_options.include_usage asks for: no choices, the usage."""
        return self._chunk(usage=result.usage)
