"""Translation between the router's protobuf messages and its plain objects."""

from __future__ import annotations

import json
from typing import Any

from orchestrouter.router import openai_format
from orchestrouter.router.core import RouterStatus
from orchestrouter.router.decision_fields import DECISION_FIELDS
from orchestrouter.router.dispatch.breaker import CircuitState
from orchestrouter.router.dispatch.dispatcher import EndpointSnapshot
from orchestrouter.router.model import (
    PREMIUM,
    SMALL,
    ChatTurn,
    ContentPart,
    Decision,
    GenerationParams,
    JsonObject,
    ResponseFormat,
    RouteResult,
    StreamDecision,
    StreamDelta,
    StreamEvent,
    Tool,
    ToolCall,
    ToolChoice,
)
from orchestrouter.runtime.errors import InvalidArgument
from orchestrouter.v1 import router_pb2

TIER_TO_PB = {SMALL: router_pb2.TIER_SMALL, PREMIUM: router_pb2.TIER_PREMIUM}
CIRCUIT_TO_PB = {
    CircuitState.CLOSED: router_pb2.CIRCUIT_STATE_CLOSED,
    CircuitState.OPEN: router_pb2.CIRCUIT_STATE_OPEN,
    CircuitState.HALF_OPEN: router_pb2.CIRCUIT_STATE_HALF_OPEN,
}

# The store keeps ratings as -1, 0, +1; RATING_UNSPECIFIED (and numbers no release defines) map to None.
RATING_FROM_PB: dict[int, int] = {router_pb2.RATING_BAD: -1, router_pb2.RATING_NEUTRAL: 0, router_pb2.RATING_GOOD: 1}


def rating_from_pb(rating: int) -> int | None:
    return RATING_FROM_PB.get(rating)


# Most requests set no generation parameter: they share this one (frozen) instance rather than build it.
_NO_PARAMS = GenerationParams()


def params_from_pb(pb: router_pb2.GenerationParams) -> GenerationParams:
    if not pb.ListFields():
        return _NO_PARAMS

    def opt(name: str) -> Any:
        return getattr(pb, name) if pb.HasField(name) else None

    return GenerationParams(
        temperature=opt("temperature"),
        top_p=opt("top_p"),
        max_tokens=opt("max_tokens"),
        stop=tuple(pb.stop),
        seed=opt("seed"),
        max_completion_tokens=opt("max_completion_tokens"),
        n=opt("n"),
        tools=tuple(_tool_from_pb(t, f"params.tools[{i}]") for i, t in enumerate(pb.tools)),
        tool_choice=ToolChoice(pb.tool_choice.mode, pb.tool_choice.function_name)
        if pb.HasField("tool_choice")
        else None,
        parallel_tool_calls=opt("parallel_tool_calls"),
        response_format=_response_format_from_pb(pb.response_format) if pb.HasField("response_format") else None,
        logprobs=opt("logprobs"),
        top_logprobs=opt("top_logprobs"),
        presence_penalty=opt("presence_penalty"),
        frequency_penalty=opt("frequency_penalty"),
        logit_bias=dict(pb.logit_bias),
        user=pb.user,
        reasoning_effort=pb.reasoning_effort,
        extra=_json_object(pb.extra_json, "params.extra_json") or {},
    )


def _json_object(text: str, at: str) -> JsonObject | None:
    """A JSON-object string field; None when empty."""
    return openai_format.json_object_from_text(text, at) if text else None


def _tool_from_pb(pb: router_pb2.Tool, at: str) -> Tool:
    return Tool(
        name=pb.name,
        description=pb.description,
        parameters=_json_object(pb.parameters_json, f"{at}.parameters_json"),
        strict=pb.strict if pb.HasField("strict") else None,
    )


def _response_format_from_pb(pb: router_pb2.ResponseFormat) -> ResponseFormat:
    return ResponseFormat(
        type=pb.type,
        schema_name=pb.schema_name,
        schema_description=pb.schema_description,
        schema=_json_object(pb.schema_json, "params.response_format.schema_json"),
        strict=pb.strict if pb.HasField("strict") else None,
    )


def messages_from_pb(request: router_pb2.RouteRequest | router_pb2.RouteStreamRequest) -> list[ChatTurn]:
    return [_turn_from_pb(m, f"messages[{i}]") for i, m in enumerate(request.messages)]


def _turn_from_pb(m: router_pb2.ChatMessage, at: str) -> ChatTurn:
    return ChatTurn(
        role=m.role,
        content=m.content,
        parts=tuple(_part_from_pb(p, f"{at}.parts[{j}]") for j, p in enumerate(m.parts)),
        name=m.name,
        tool_calls=tuple(
            ToolCall(id=c.id, name=c.name, arguments=c.arguments, type=c.type or "function") for c in m.tool_calls
        ),
        tool_call_id=m.tool_call_id,
    )


def _part_from_pb(pb: router_pb2.ContentPart, at: str) -> ContentPart:
    which = pb.WhichOneof("part")
    if which == "text":
        return ContentPart.of_text(pb.text)
    data = _json_object(pb.json, f"{at}.json")
    if data is None:
        raise InvalidArgument(f"{at} is empty: set text or json")
    if not isinstance(data.get("type"), str) or data["type"] == "text":
        raise InvalidArgument(f'{at}.json needs a "type" other than "text" (send text parts as text)')
    return ContentPart.opaque(data)


def dial_from_pb(request: router_pb2.RouteRequest) -> tuple[float | None, float | None]:
    which = request.WhichOneof("dial")
    return (
        request.threshold if which == "threshold" else None,
        request.premium_share if which == "premium_share" else None,
    )


def decision_to_pb(d: Decision) -> router_pb2.Decision:
    fields: dict[str, Any] = {f.name: getattr(d, f.name) for f in DECISION_FIELDS}
    for f in DECISION_FIELDS:
        if f.tier:
            fields[f.name] = _tier_to_pb(fields[f.name])
    return router_pb2.Decision(**fields)


def _tier_to_pb(tier: str) -> router_pb2.Tier:
    return TIER_TO_PB.get(tier, router_pb2.TIER_UNSPECIFIED)


def result_to_pb(r: RouteResult) -> router_pb2.RouteResponse:
    return router_pb2.RouteResponse(
        decision=decision_to_pb(r.decision),
        answer=r.answer,
        finish_reason=r.finish_reason,
        usage=router_pb2.Usage(
            prompt_tokens=r.usage.prompt_tokens,
            completion_tokens=r.usage.completion_tokens,
            total_tokens=r.usage.total_tokens,
            cost_usd=r.usage.cost_usd,
        ),
        timings=router_pb2.HopTimings(
            embed_ms=r.timings.embed_ms,
            score_ms=r.timings.score_ms,
            dispatch_ms=r.timings.dispatch_ms,
            total_ms=r.timings.total_ms,
        ),
        request_id=r.request_id,
        tool_calls=[_tool_call_to_pb(c) for c in r.tool_calls],
        logprobs_json=_json_text(r.logprobs),
    )


def _tool_call_to_pb(c: ToolCall) -> router_pb2.ToolCall:
    return router_pb2.ToolCall(id=c.id, type=c.type, name=c.name, arguments=c.arguments)


def _json_text(value: JsonObject | None) -> str:
    return "" if value is None else json.dumps(value, separators=(",", ":"))


def stream_event_to_pb(event: StreamEvent) -> router_pb2.RouteStreamResponse:
    if isinstance(event, StreamDelta):
        return router_pb2.RouteStreamResponse(
            delta=event.text,
            tool_calls=[
                router_pb2.ToolCallDelta(index=d.index, id=d.id, name=d.name, arguments=d.arguments)
                for d in event.tool_calls
            ],
            logprobs_json=_json_text(event.logprobs),
        )
    if isinstance(event, StreamDecision):
        return router_pb2.RouteStreamResponse(decision=decision_to_pb(event.decision))
    return router_pb2.RouteStreamResponse(done=result_to_pb(event.result))


def endpoint_status_to_pb(e: EndpointSnapshot) -> router_pb2.EndpointStatus:
    return router_pb2.EndpointStatus(
        tier=TIER_TO_PB[e.tier],
        model=e.model,
        configured=e.configured,
        circuit=CIRCUIT_TO_PB[e.circuit],
        requests=e.requests,
        failures=e.failures,
        prompt_tokens=e.prompt_tokens,
        completion_tokens=e.completion_tokens,
        cost_usd=e.cost_usd,
    )


def status_to_pb(s: RouterStatus) -> router_pb2.GetStatusResponse:
    return router_pb2.GetStatusResponse(
        threshold=s.threshold,
        router_id=s.router_id,
        router_version=s.router_version,
        endpoints=[endpoint_status_to_pb(e) for e in s.endpoints],
        fallbacks=s.fallbacks,
        degraded=s.degraded,
    )
