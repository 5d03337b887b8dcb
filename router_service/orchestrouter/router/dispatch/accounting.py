"""Usage and cost: what each answer cost at its tier's prices, and the running totals per tier."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrouter.router.config import TierConfig
from orchestrouter.router.model import Usage
from orchestrouter.router.openai_format import TokenUsage


def priced_usage(usage: TokenUsage | None, tier: TierConfig) -> Usage:
    """The endpoint's token counts with their cost at the tier's per-million-token prices."""
    if usage is None:
        return Usage()
    cost = (
        usage.prompt_tokens * tier.price_input_per_mtok + usage.completion_tokens * tier.price_output_per_mtok
    ) / 1e6
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost_usd=cost)


@dataclass
class TierCounters:
    """TierCounters: cumulative calls, failed calls, tokens and cost of one tier's endpoint."""

    requests: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add_usage(self, usage: Usage) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost_usd += usage.cost_usd
