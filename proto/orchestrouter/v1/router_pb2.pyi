from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_UNSPECIFIED: _ClassVar[Tier]
    TIER_SMALL: _ClassVar[Tier]
    TIER_PREMIUM: _ClassVar[Tier]

class CircuitState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CIRCUIT_STATE_UNSPECIFIED: _ClassVar[CircuitState]
    CIRCUIT_STATE_CLOSED: _ClassVar[CircuitState]
    CIRCUIT_STATE_OPEN: _ClassVar[CircuitState]
    CIRCUIT_STATE_HALF_OPEN: _ClassVar[CircuitState]

class Rating(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RATING_UNSPECIFIED: _ClassVar[Rating]
    RATING_BAD: _ClassVar[Rating]
    RATING_NEUTRAL: _ClassVar[Rating]
    RATING_GOOD: _ClassVar[Rating]
TIER_UNSPECIFIED: Tier
TIER_SMALL: Tier
TIER_PREMIUM: Tier
CIRCUIT_STATE_UNSPECIFIED: CircuitState
CIRCUIT_STATE_CLOSED: CircuitState
CIRCUIT_STATE_OPEN: CircuitState
CIRCUIT_STATE_HALF_OPEN: CircuitState
RATING_UNSPECIFIED: Rating
RATING_BAD: Rating
RATING_NEUTRAL: Rating
RATING_GOOD: Rating

class ChatMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class GenerationParams(_message.Message):
    __slots__ = ("temperature", "top_p", "max_tokens", "stop", "seed")
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    temperature: float
    top_p: float
    max_tokens: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    def __init__(self, temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_tokens: _Optional[int] = ..., stop: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("messages", "threshold", "premium_share", "dry_run", "params")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_SHARE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    threshold: float
    premium_share: float
    dry_run: bool
    params: GenerationParams
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., threshold: _Optional[float] = ..., premium_share: _Optional[float] = ..., dry_run: _Optional[bool] = ..., params: _Optional[_Union[GenerationParams, _Mapping]] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("tier", "model", "win_probability", "threshold", "router_id", "router_version", "degraded", "degraded_reason", "routed_tier", "fell_back", "fallback_reason", "attempts", "budget_limited", "budget_reason")
    TIER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WIN_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_REASON_FIELD_NUMBER: _ClassVar[int]
    ROUTED_TIER_FIELD_NUMBER: _ClassVar[int]
    FELL_BACK_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_LIMITED_FIELD_NUMBER: _ClassVar[int]
    BUDGET_REASON_FIELD_NUMBER: _ClassVar[int]
    tier: Tier
    model: str
    win_probability: float
    threshold: float
    router_id: str
    router_version: str
    degraded: bool
    degraded_reason: str
    routed_tier: Tier
    fell_back: bool
    fallback_reason: str
    attempts: int
    budget_limited: bool
    budget_reason: str
    def __init__(self, tier: _Optional[_Union[Tier, str]] = ..., model: _Optional[str] = ..., win_probability: _Optional[float] = ..., threshold: _Optional[float] = ..., router_id: _Optional[str] = ..., router_version: _Optional[str] = ..., degraded: _Optional[bool] = ..., degraded_reason: _Optional[str] = ..., routed_tier: _Optional[_Union[Tier, str]] = ..., fell_back: _Optional[bool] = ..., fallback_reason: _Optional[str] = ..., attempts: _Optional[int] = ..., budget_limited: _Optional[bool] = ..., budget_reason: _Optional[str] = ...) -> None: ...

class HopTimings(_message.Message):
    __slots__ = ("embed_ms", "score_ms", "dispatch_ms", "total_ms")
    EMBED_MS_FIELD_NUMBER: _ClassVar[int]
    SCORE_MS_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    embed_ms: float
    score_ms: float
    dispatch_ms: float
    total_ms: float
    def __init__(self, embed_ms: _Optional[float] = ..., score_ms: _Optional[float] = ..., dispatch_ms: _Optional[float] = ..., total_ms: _Optional[float] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens", "total_tokens", "cost_usd")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision", "answer", "finish_reason", "usage", "timings", "request_id")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    answer: str
    finish_reason: str
    usage: Usage
    timings: HopTimings
    request_id: str
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., answer: _Optional[str] = ..., finish_reason: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., timings: _Optional[_Union[HopTimings, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RouteStreamRequest(_message.Message):
    __slots__ = ("messages", "threshold", "premium_share", "dry_run", "params")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_SHARE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    threshold: float
    premium_share: float
    dry_run: bool
    params: GenerationParams
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., threshold: _Optional[float] = ..., premium_share: _Optional[float] = ..., dry_run: _Optional[bool] = ..., params: _Optional[_Union[GenerationParams, _Mapping]] = ...) -> None: ...

class RouteStreamResponse(_message.Message):
    __slots__ = ("decision", "delta", "done")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    delta: str
    done: RouteResponse
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., delta: _Optional[str] = ..., done: _Optional[_Union[RouteResponse, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EndpointStatus(_message.Message):
    __slots__ = ("tier", "model", "configured", "circuit", "requests", "failures", "prompt_tokens", "completion_tokens", "cost_usd")
    TIER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    tier: Tier
    model: str
    configured: bool
    circuit: CircuitState
    requests: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    def __init__(self, tier: _Optional[_Union[Tier, str]] = ..., model: _Optional[str] = ..., configured: _Optional[bool] = ..., circuit: _Optional[_Union[CircuitState, str]] = ..., requests: _Optional[int] = ..., failures: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("threshold", "router_id", "router_version", "endpoints", "fallbacks", "degraded")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    router_id: str
    router_version: str
    endpoints: _containers.RepeatedCompositeFieldContainer[EndpointStatus]
    fallbacks: int
    degraded: int
    def __init__(self, threshold: _Optional[float] = ..., router_id: _Optional[str] = ..., router_version: _Optional[str] = ..., endpoints: _Optional[_Iterable[_Union[EndpointStatus, _Mapping]]] = ..., fallbacks: _Optional[int] = ..., degraded: _Optional[int] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("request_id", "rating", "comment")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    rating: Rating
    comment: str
    def __init__(self, request_id: _Optional[str] = ..., rating: _Optional[_Union[Rating, str]] = ..., comment: _Optional[str] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
