"""The store's schema as ordered, versioned migrations, applied once each under a lock.

One SQL text serves SQLite and PostgreSQL: DOUBLE PRECISION (PostgreSQL's REAL is 4 bytes, too
coarse for unix seconds), TEXT, BIGINT, and 0/1 integers for booleans. A migration is never edited
once released: a change is a new step appended to MIGRATIONS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from orchestrouter.store.errors import StoreError

# (version, statements), ascending. The version table itself is created before any step runs.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE requests (
                request_id TEXT PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                caller TEXT NOT NULL,
                messages_json TEXT NOT NULL,
                query TEXT NOT NULL,
                routed_tier TEXT NOT NULL,
                answered_tier TEXT NOT NULL,
                win_probability DOUBLE PRECISION NOT NULL,
                threshold DOUBLE PRECISION NOT NULL,
                router_id TEXT NOT NULL,
                router_version TEXT NOT NULL
            )""",
            "CREATE INDEX requests_created_at ON requests (created_at, request_id)",
            "CREATE INDEX requests_caller ON requests (caller)",
            """CREATE TABLE answers (
                request_id TEXT NOT NULL REFERENCES requests (request_id) ON DELETE CASCADE,
                position BIGINT NOT NULL,
                tier TEXT NOT NULL,
                model TEXT NOT NULL,
                text TEXT NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                prompt_tokens BIGINT NOT NULL,
                completion_tokens BIGINT NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL,
                shadow BIGINT NOT NULL,
                error TEXT NOT NULL,
                PRIMARY KEY (request_id, position)
            )""",
            """CREATE TABLE judgments (
                request_id TEXT NOT NULL REFERENCES requests (request_id) ON DELETE CASCADE,
                judge_model TEXT NOT NULL,
                winner TEXT NOT NULL,
                verdict_first TEXT NOT NULL,
                verdict_second TEXT NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (request_id, judge_model)
            )""",
            """CREATE TABLE feedback (
                request_id TEXT NOT NULL REFERENCES requests (request_id) ON DELETE CASCADE,
                caller TEXT NOT NULL,
                rating BIGINT NOT NULL,
                comment TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX feedback_request ON feedback (request_id)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1][0]

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
)"""


def pending(applied: Sequence[int]) -> list[tuple[int, tuple[str, ...]]]:
    """The migrations not yet applied, in order."""
    done = set(applied)
    return [step for step in MIGRATIONS if step[0] not in done]


def migrate(execute: Callable[..., Any], query: Callable[..., list[tuple[Any, ...]]], now: float) -> list[int]:
    """Applies the pending migrations inside the caller's transaction (which holds the migration lock).

    Returns the versions applied (empty when the schema was current: migrating is idempotent).
    A schema newer than this code knows is refused rather than written to.
    """
    execute(VERSION_TABLE)
    applied = [int(row[0]) for row in query("SELECT version FROM schema_version")]
    if applied and max(applied) > LATEST_VERSION:
        raise StoreError(
            f"the store's schema is version {max(applied)}, newer than this release knows ({LATEST_VERSION}): "
            "upgrade orchestrouter"
        )
    done = []
    for version, statements in pending(applied):
        for statement in statements:
            execute(statement)
        execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, now))
        done.append(version)
    return done
