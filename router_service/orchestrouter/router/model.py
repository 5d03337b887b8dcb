"""Plain request and result objects of the router, independent of protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field

SMALL = "small"
PREMIUM = "premium"


@dataclass(frozen=True)
class ChatTurn:
    """ChatTurn: one OpenAI-style chat message."""

    role: str
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """GenerationParams: passed through to the endpoint; None means the endpoint's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def as_openai_kwargs(self) -> dict:
        kwargs: dict = {}
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        if self.stop:
            kwargs["stop"] = list(self.stop)
        return kwargs


@dataclass(frozen=True)
class RouteInput:
    """RouteInput: a validated chat request and its per-request dial."""

    messages: tuple[ChatTurn, ...]
    query: str
    threshold: float | None = None
    premium_share: float | None = None
    dry_run: bool = False
    params: GenerationParams = field(default_factory=GenerationParams)
    # The authenticated caller (runtime.auth.current_caller()); "" when authentication is off.
    caller: str = ""
    # A tier the caller pinned (the HTTP front door's model name of a tier); "" lets the score decide.
    pinned_tier: str = ""

    @property
    def sets_dial(self) -> bool:
        """Whether the request overrides the configured dial or pins a tier (a caller policy may forbid it)."""
        return self.threshold is not None or self.premium_share is not None or bool(self.pinned_tier)


@dataclass
class Usage:
    """Usage: tokens the endpoint reported and their cost at the tier's prices."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Decision:
    """Decision: how a request was routed and what happened at dispatch.

    Where each field is reported (decision log, span, metric, reply): decision_fields.DECISION_FIELDS.
    """

    tier: str
    model: str
    win_probability: float
    threshold: float
    router_id: str = ""
    router_version: str = ""
    degraded: bool = False
    degraded_reason: str = ""
    routed_tier: str = ""
    fell_back: bool = False
    fallback_reason: str = ""
    attempts: int = 0
    # Routed small although the score said premium: the caller's premium budget was spent.
    budget_limited: bool = False
    budget_reason: str = ""

    def __post_init__(self) -> None:
        # The tier chosen before dispatch; unless told otherwise, the tier that answers.
        self.routed_tier = self.routed_tier or self.tier


@dataclass
class Timings:
    """Timings: milliseconds spent in each hop."""

    embed_ms: float = 0.0
    score_ms: float = 0.0
    dispatch_ms: float = 0.0
    total_ms: float = 0.0


@dataclass
class Completion:
    """Completion: an endpoint's answer."""

    text: str
    finish_reason: str
    usage: Usage
    model: str


@dataclass
class RouteResult:
    """RouteResult: the decision and, unless dry run, the answer."""

    decision: Decision
    timings: Timings
    request_id: str = ""
    answer: str = ""
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class StreamDecision:
    """StreamDecision: the first event of a streamed route, once a tier has started answering."""

    decision: Decision
    # The request's id (the decision-log line's and the trace's), known before the answer is.
    request_id: str = ""


@dataclass(frozen=True)
class StreamDelta:
    """StreamDelta: the next piece of answer text."""

    text: str


@dataclass(frozen=True)
class StreamDone:
    """StreamDone: the last event; the result carries usage, timings and the final decision (no text)."""

    result: RouteResult


StreamEvent = StreamDecision | StreamDelta | StreamDone
