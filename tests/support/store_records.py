"""Records for the store tests, and a look at a store's raw tables (what purge must have emptied)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from orchestrouter.store import AnswerRecord, RequestRecord
from orchestrouter.store.url import parse_store_url


def answer(tier: str, text: str = "", *, shadow: bool = False, error: str = "") -> AnswerRecord:
    return AnswerRecord(
        tier=tier,
        model=f"{tier}-model",
        text="" if error else (text or f"{tier} answer"),
        latency_ms=12.5,
        prompt_tokens=7,
        completion_tokens=11,
        cost_usd=0.000125,
        shadow=shadow,
        error=error,
    )


def request(
    request_id: str,
    created_at: float = 1_700_000_000.0,
    *,
    caller: str = "alice",
    prompt: str = "",
    answers: tuple[AnswerRecord, ...] | None = None,
) -> RequestRecord:
    """A shadowed request (small served, premium shadow) unless answers says otherwise."""
    prompt = prompt or f"prompt of {request_id} \u00e9\u4e2d"
    return RequestRecord(
        request_id=request_id,
        created_at=created_at,
        caller=caller,
        messages_json=json.dumps([{"role": "user", "content": prompt}]),
        query=prompt,
        routed_tier="small",
        answered_tier="small",
        win_probability=0.125,
        threshold=0.2,
        router_id="mf-test",
        router_version="v1",
        answers=answers if answers is not None else (answer("small"), answer("premium", shadow=True)),
    )


def raw_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of sql (committed, if it writes) run on the store's database directly, past the Store API."""
    parsed = parse_store_url(url)
    if parsed.kind == "sqlite":
        with sqlite3.connect(parsed.path) as connection:
            return connection.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(parsed.url) as connection:
        cursor = connection.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []


def stored_text(url: str) -> str:
    """Every text column of every table, joined: what a purge must leave without the purged prompts."""
    columns = {
        "requests": "request_id || messages_json || query",
        "answers": "request_id || text",
        "judgments": "request_id",
        "feedback": "request_id || comment",
    }
    return "\n".join(
        str(row[0]) for table, expr in columns.items() for row in raw_rows(url, f"SELECT {expr} FROM {table}")
    )
