"""chat: an OpenAI chat-completions request as the router's RouteInput, and the answer as OpenAI's JSON.

The request is OpenAI's ``POST /v1/chat/completions`` body. Beside it the router reads
``model`` (AUTO_MODEL, or a tier's model to pin that tier), ``stream`` with
``stream_options.include_usage``, and the dial, either in headers (``x-orchestrouter-threshold`` or
``x-orchestrouter-premium-share``) or in the body as ``"orchestrouter": {"threshold": ...}`` (the
OpenAI SDKs' ``extra_body``); the caller's policy decides whether it may set it (403 otherwise).
The answer is a ``chat.completion`` object, or ``chat.completion.chunk`` events: its ``id`` is the
router's request id, ``model`` the model that answered, ``system_fingerprint`` the router version.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrouter.router.http import headers as dial_headers
from orchestrouter.router.http.models import ModelCatalog
from orchestrouter.router.model import ChatTurn, Decision, GenerationParams, RouteInput, RouteResult
from orchestrouter.router.validation import build_route_input
from orchestrouter.runtime.errors import InvalidArgument

# The body's own object for what only the router reads (so it never reaches an endpoint).
ROUTER_FIELD = "orchestrouter"
DIAL_FIELDS = ("threshold", "premium_share")


@dataclass(frozen=True)
class ChatRequest:
    """ChatRequest: the RouteInput to route, and how the caller wants the answer."""

    inp: RouteInput
    stream: bool
    include_usage: bool


def parse_chat_request(
    body: Any, headers: Mapping[str, str], caller: str, catalog: ModelCatalog, max_prompt_chars: int
) -> ChatRequest:
    """The ChatRequest of a decoded JSON body; InvalidArgument says what is wrong, ModelNotFound an unknown model."""
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidArgument("model must be a string")
    pinned = catalog.pinned_tier(model)
    stream = _bool(body, "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidArgument("stream_options must be an object")
    threshold, premium_share = _dial(body, headers)
    inp = build_route_input(
        _messages(body.get("messages")), threshold, premium_share, False, _params(body), max_prompt_chars
    )
    return ChatRequest(
        dataclasses.replace(inp, caller=caller, pinned_tier=pinned),
        stream=stream,
        include_usage=stream and _bool(options, "include_usage"),
    )


def _bool(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be true or false")
    return value


def _dial(body: dict[str, Any], headers: Mapping[str, str]) -> tuple[float | None, float | None]:
    threshold, premium_share = dial_headers.dial_from_headers(headers)
    extra = body.get(ROUTER_FIELD) or {}
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


def _messages(raw: Any) -> list[ChatTurn]:
    if not isinstance(raw, list):
        raise InvalidArgument("messages must be a list of message objects")
    turns = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidArgument(f"messages[{i}] must be an object with a string role")
        turns.append(ChatTurn(role=message["role"], content=_text(message.get("content"), i)))
    return turns


def _text(content: Any, i: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise InvalidArgument(f"messages[{i}].content must be a string or a list of content parts")


def _params(body: dict[str, Any]) -> GenerationParams:
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise InvalidArgument("stop must be a string or a list of strings")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    return GenerationParams(
        temperature=_optional(body, "temperature", float),
        top_p=_optional(body, "top_p", float),
        max_tokens=_optional_int(max_tokens, "max_tokens"),
        stop=tuple(stop or ()),
        seed=_optional_int(body.get("seed"), "seed"),
    )


def _optional(body: dict[str, Any], name: str, kind: type[float]) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a number")
    return kind(value)


def _optional_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an integer")
    return value


# --- The answer ---------------------------------------------------------------------------------------


def _usage(result: RouteResult) -> dict[str, int]:
    u = result.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def completion_body(result: RouteResult, created: int) -> dict[str, Any]:
    """The chat.completion object of a unary answer."""
    return {
        "id": result.request_id,
        "object": "chat.completion",
        "created": created,
        "model": result.decision.model,
        "system_fingerprint": result.decision.router_version or None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer, "refusal": None},
                "logprobs": None,
                "finish_reason": result.finish_reason or "stop",
            }
        ],
        "usage": _usage(result),
    }


class ChunkWriter:
    """ChunkWriter: the chat.completion.chunk objects of one streamed answer (same id, created and model)."""

    def __init__(self, request_id: str, decision: Decision, created: int) -> None:
        self._base = {
            "id": request_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": decision.model,
            "system_fingerprint": decision.router_version or None,
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            **self._base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    def first(self) -> dict[str, Any]:
        return self.chunk({"role": "assistant", "content": ""})

    def text(self, text: str) -> dict[str, Any]:
        return self.chunk({"content": text})

    def last(self, result: RouteResult) -> dict[str, Any]:
        return self.chunk({}, result.finish_reason or "stop")

    def usage(self, result: RouteResult) -> dict[str, Any]:
        """The final chunk stream_options.include_usage asks for: no choices, the usage."""
        return {**self._base, "choices": [], "usage": _usage(result)}
