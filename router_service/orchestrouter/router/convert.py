"""Translation between the router's protobuf messages and its plain objects."""

from __future__ import annotations

from typing import Any

from orchestrouter.router.core import RouterStatus
from orchestrouter.router.decision_fields import DECISION_FIELDS
from orchestrouter.router.dispatch.breaker import CircuitState
from orchestrouter.router.dispatch.dispatcher import EndpointSnapshot
from orchestrouter.router.model import (
    PREMIUM,
    SMALL,
    ChatTurn,
    Decision,
    GenerationParams,
    RouteResult,
    StreamDecision,
    StreamDelta,
    StreamEvent,
)
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


def params_from_pb(pb: router_pb2.GenerationParams) -> GenerationParams:
    return GenerationParams(
        temperature=pb.temperature if pb.HasField("temperature") else None,
        top_p=pb.top_p if pb.HasField("top_p") else None,
        max_tokens=pb.max_tokens if pb.HasField("max_tokens") else None,
        stop=tuple(pb.stop),
        seed=pb.seed if pb.HasField("seed") else None,
    )


def messages_from_pb(request: router_pb2.RouteRequest) -> list[ChatTurn]:
    return [ChatTurn(role=m.role, content=m.content) for m in request.messages]


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
    )


def stream_event_to_pb(event: StreamEvent) -> router_pb2.RouteStreamResponse:
    if isinstance(event, StreamDelta):
        return router_pb2.RouteStreamResponse(delta=event.text)
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
