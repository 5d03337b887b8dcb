"""Stack: an in-process pair whose router dispatches to two FakeOpenAI endpoints, small and premium.

The `stack` fixture (tests/conftest.py) starts one. Its router model gives every query the same
win probability (0.9), so the default threshold routes to premium and a request threshold above
0.9 routes to small.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from orchestrouter.router.config import DispatchConfig, RouterConfig, TierConfig
from orchestrouter.router.dispatch.retry import RetryPolicy
from tests.support.fake_openai import FakeOpenAI
from tests.support.pair import Pair

WIN_PROBABILITY = 0.9
KEYS = {"small": "sk-small-7f3a9c1e5b2d4680", "premium": "sk-premium-0d8e6b4a2c9f1357"}
PRICES = {"small": (0.10, 0.40), "premium": (2.00, 8.00)}
# Short backoff so retry tests take milliseconds.
FAST_DISPATCH = DispatchConfig(retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05))


def tier_config(tier: str, fake: FakeOpenAI | None, **overrides: Any) -> TierConfig:
    price_in, price_out = PRICES[tier]
    fields: dict[str, Any] = dict(
        base_url=fake.base_url if fake else "",
        model=f"{tier}-model",
        api_key=KEYS[tier],
        connect_timeout_s=2.0,
        first_token_timeout_s=5.0,
        total_timeout_s=10.0,
        price_input_per_mtok=price_in,
        price_output_per_mtok=price_out,
    )
    fields.update(overrides)
    return TierConfig(tier, **fields)


def stack_config(
    small: FakeOpenAI, premium: FakeOpenAI, small_fields: dict, premium_fields: dict, **router_fields: Any
) -> RouterConfig:
    """The router's configuration: both tiers on their fakes, FAST_DISPATCH unless dispatch is given."""
    router_fields.setdefault("dispatch", FAST_DISPATCH)
    # These routers test dispatch, not degraded scoring: a Score call slowed by a loaded test machine
    # must not route a request small before it reaches the endpoint under test.
    router_fields.setdefault("scorer_timeout_ms", 5000.0)
    return RouterConfig(
        listen="127.0.0.1:0",
        grace_seconds=0.5,
        small=tier_config("small", small, **small_fields),
        premium=tier_config("premium", premium, **premium_fields),
        **router_fields,
    )


@dataclass
class Stack(Pair):
    """Stack: a Pair and the two fake endpoints its router dispatches to."""

    small: FakeOpenAI
    premium: FakeOpenAI


def with_dispatch(max_retries: int = FAST_DISPATCH.retry.max_retries, **changes: Any) -> DispatchConfig:
    """FAST_DISPATCH with max_retries and some other DispatchConfig fields (breaker=...) changed."""
    retry = dataclasses.replace(FAST_DISPATCH.retry, max_retries=max_retries)
    return dataclasses.replace(FAST_DISPATCH, retry=retry, **changes)
