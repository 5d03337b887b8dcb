"""Plain request and result objects of the router, independent of protobuf."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SMALL = "small"
PREMIUM = "premium"


# A JSON object as the caller or the endpoint wrote it (json.loads output), passed through untouched.
JsonObject = Mapping[str, Any]

# How the text parts of a multi-part message are joined into the text the router scores.
TEXT_PART_SEPARATOR = "\n"


@dataclass(frozen=True)
class ToolCall:
    """ToolCall: a function call the model asked for, in an assistant message or an answer."""

    id: str
    name: str
    # The arguments as the model wrote them: a JSON string, possibly invalid JSON (never parsed here).
    arguments: str
    type: str = "function"


@dataclass(frozen=True)
class ToolCallDelta:
    """ToolCallDelta: a piece of a streamed tool call; index says which call, the rest arrives in fragments.

    As OpenAI streams it: the first piece of a call carries its id and name, later pieces only
    argument fragments (concatenated in order, they make ToolCall.arguments).
    """

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True)
class ContentPart:
    """ContentPart: one part of a multi-part message.

    A text part has type "text" and its text; any other part (image_url, input_audio, file, ...)
    keeps the whole part object in `data` and is passed to the endpoint as it came.
    """

    type: str
    text: str = ""
    data: JsonObject | None = None

    @staticmethod
    def of_text(text: str) -> ContentPart:
        return ContentPart(type="text", text=text)

    @staticmethod
    def opaque(data: JsonObject) -> ContentPart:
        return ContentPart(type=str(data.get("type", "")), data=data)


@dataclass(frozen=True)
class ChatTurn:
    """ChatTurn: one OpenAI-style chat message.

    Its content is either plain `content` text or, when `parts` is non-empty, multi-part content
    (then `content` is ""). An assistant turn may carry tool_calls (and no content); a "tool" turn
    answers the call named by tool_call_id.
    """

    role: str
    content: str = ""
    parts: tuple[ContentPart, ...] = ()
    name: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""

    @property
    def text(self) -> str:
        """The turn's text: its content, or its text parts joined (other parts have no text)."""
        if not self.parts:
            return self.content
        return TEXT_PART_SEPARATOR.join(p.text for p in self.parts if p.type == "text")


@dataclass(frozen=True)
class Tool:
    """Tool: a function the model may call (OpenAI's {"type": "function", "function": {...}})."""

    name: str
    description: str = ""
    # The JSON schema of the arguments; None: the function takes none.
    parameters: JsonObject | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class ToolChoice:
    """ToolChoice: "none", "auto", "required", or "function" with the one function the model must call."""

    mode: str
    function: str = ""


@dataclass(frozen=True)
class ResponseFormat:
    """ResponseFormat: "text", "json_object" (JSON mode) or "json_schema" (structured output, with its schema)."""

    type: str
    schema_name: str = ""
    schema_description: str = ""
    schema: JsonObject | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class GenerationParams:
    """GenerationParams: passed through to the endpoint; None (or empty) means the endpoint's default.

    The mapping to and from OpenAI's request fields is openai_format.params_to_openai/params_from_openai;
    the range checks are validation.check_params.
    """

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    max_completion_tokens: int | None = None
    # Only n == 1 is accepted (one answer per route); kept so a request asking for more is refused, not narrowed.
    n: int | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    # Token id (as a string, as OpenAI's JSON has it) -> bias in [-100, 100].
    logit_bias: Mapping[str, float] = field(default_factory=dict)
    user: str = ""
    reasoning_effort: str = ""
    # Further top-level request fields the endpoint accepts (metadata, service_tier, vendor extensions...),
    # passed through as they came; never one of the fields above or the request's own (model, messages, stream).
    extra: JsonObject = field(default_factory=dict)


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
    tool_calls: tuple[ToolCall, ...] = ()
    # OpenAI's choice.logprobs object as the endpoint sent it; None when not asked for.
    logprobs: JsonObject | None = None


@dataclass
class RouteResult:
    """RouteResult: the decision and, unless dry run, the answer."""

    decision: Decision
    timings: Timings
    request_id: str = ""
    answer: str = ""
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    # The tool calls of the answer (finish_reason "tool_calls"); on a stream they went out as deltas.
    tool_calls: tuple[ToolCall, ...] = ()
    # The answer's logprobs object (OpenAI's choice.logprobs) when asked for; on a stream, in the deltas.
    logprobs: JsonObject | None = None


@dataclass(frozen=True)
class StreamDecision:
    """StreamDecision: the first event of a streamed route, once a tier has started answering."""

    decision: Decision
    # The request's id (the decision-log line's and the trace's), known before the answer is.
    request_id: str = ""


@dataclass(frozen=True)
class StreamDelta:
    """StreamDelta: the next piece of the answer: text, tool-call pieces, and their logprobs, if any."""

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    # The chunk's choice.logprobs object as the endpoint sent it.
    logprobs: JsonObject | None = None

    @property
    def empty(self) -> bool:
        return not (self.text or self.tool_calls or self.logprobs)


@dataclass(frozen=True)
class StreamDone:
    """StreamDone: the last event; the result carries usage, timings and the final decision (no text)."""

    result: RouteResult


StreamEvent = StreamDecision | StreamDelta | StreamDone
