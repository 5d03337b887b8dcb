"""Stored traffic for the learning-loop tests: requests answered by both tiers, as shadow routing records them."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from orchestrouter.store import AnswerRecord, RequestRecord, Store
from orchestrouter.tools.loop_fakes import Prompt, tier_reply

SMALL_COST = 0.0001
PREMIUM_COST = 0.002


def answer(tier: str, text: str, shadow: bool, cost: float | None = None) -> AnswerRecord:
    price = cost if cost is not None else {"small": SMALL_COST, "premium": PREMIUM_COST}[tier]
    return AnswerRecord(tier, f"{tier}-model", text, 12.5, 10, len(text.split()), price, shadow)


def pair_record(
    request_id: str,
    query: str,
    small_text: str,
    premium_text: str,
    *,
    answered: str = "small",
    win_probability: float = 0.5,
    created_at: float | None = None,
) -> RequestRecord:
    """A request answered by ``answered`` and shadowed to the other tier."""
    answers = (
        answer("small", small_text, shadow=answered != "small"),
        answer("premium", premium_text, shadow=answered != "premium"),
    )
    return RequestRecord(
        request_id=request_id,
        created_at=time.time() if created_at is None else created_at,
        caller="",
        messages_json=json.dumps([{"role": "user", "content": query}]),
        query=query,
        routed_tier=answered,
        answered_tier=answered,
        win_probability=win_probability,
        threshold=0.5,
        router_id="test-router",
        router_version="1",
        answers=answers,
    )


def record_world(store: Store, prompts: Sequence[Prompt]) -> list[RequestRecord]:
    """One shadowed request per prompt, answered as the simulated world's tiers answer it."""
    small, premium = tier_reply("small"), tier_reply("premium")
    records = []
    for i, p in enumerate(prompts):
        body = {"messages": [{"role": "user", "content": p.text}]}
        records.append(pair_record(f"req-{i:04d}", p.text, small(body), premium(body)))
    store.record_requests(records)
    return records
