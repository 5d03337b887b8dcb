"""The records the traffic store holds: requests with their answers, judgments and feedback."""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("small", "premium")
WINNERS = ("small", "premium", "tie")
RATINGS = (-1, 0, 1)


@dataclass(frozen=True)
class AnswerRecord:
    """AnswerRecord: one tier's answer to a request."""

    tier: str  # "small" | "premium"
    model: str
    text: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    shadow: bool  # True: produced by shadow routing, never shown to the caller
    error: str = ""  # non-empty: the call failed (then text is "")

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class RequestRecord:
    """RequestRecord: one answered (not dry-run) request, its decision and its answers."""

    request_id: str
    created_at: float  # unix seconds
    caller: str  # authenticated caller, "" when auth is off
    messages_json: str  # the chat messages as JSON (OpenAI shape): prompt text lives only in the store
    query: str  # the scored text (last user message)
    routed_tier: str  # the tier the decision chose
    answered_tier: str  # the tier that answered (differs after fallback)
    win_probability: float
    threshold: float
    router_id: str
    router_version: str
    answers: tuple[AnswerRecord, ...]  # the served answer, plus the shadow answer when shadowed


@dataclass(frozen=True)
class Judgment:
    """Judgment: a judge model's verdict on one pair."""

    request_id: str
    judge_model: str
    winner: str  # "small" | "premium" | "tie" (both orders asked; disagreement = tie)
    verdicts: tuple[str, str]  # raw verdicts in the two orders, e.g. ("A", "B")
    cost_usd: float
    created_at: float


@dataclass(frozen=True)
class Feedback:
    """Feedback: the caller's own rating of an answer."""

    request_id: str
    caller: str
    rating: int  # -1 (bad), 0 (neutral), +1 (good)
    comment: str
    created_at: float


@dataclass(frozen=True)
class StoredPair:
    """StoredPair: a request with answers from both tiers (what a judge labels).

    request.answers holds exactly one small and one premium answer, both without error (the first
    successful answer of each tier; failed attempts are left out).
    """

    request: RequestRecord
    judgments: tuple[Judgment, ...]
    feedback: tuple[Feedback, ...]

    def answer(self, tier: str) -> AnswerRecord:
        """The pair's answer from tier ("small" or "premium")."""
        return next(a for a in self.request.answers if a.tier == tier)
