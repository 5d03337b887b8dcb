"""SQLStore: the Store protocol in SQL, over any Backend (SQLite or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from orchestrouter.store import schema
from orchestrouter.store.backend import Backend, Transaction
from orchestrouter.store.errors import NotYourRequest, UnknownRequest
from orchestrouter.store.records import (
    RATINGS,
    WINNERS,
    AnswerRecord,
    Feedback,
    Judgment,
    RequestRecord,
    StoredPair,
)

REQUEST_COLUMNS = (
    "request_id, created_at, caller, messages_json, query, routed_tier, answered_tier, "
    "win_probability, threshold, router_id, router_version"
)
ANSWER_COLUMNS = "tier, model, text, latency_ms, prompt_tokens, completion_tokens, cost_usd, shadow, error"
# A request is a pair when both tiers answered it without error.
IS_PAIR = " AND ".join(
    f"EXISTS (SELECT 1 FROM answers a WHERE a.request_id = r.request_id AND a.tier = '{tier}' AND a.error = '')"
    for tier in ("small", "premium")
)
IS_JUDGED = "EXISTS (SELECT 1 FROM judgments j WHERE j.request_id = r.request_id)"
# Rows read per round trip by the iterators (which hold no lock between pages), and ids per IN (...).
PAGE_SIZE = 500


class SQLStore:
    """SQLStore: the traffic store on one backend; migrates the schema when opened."""

    def __init__(self, backend: Backend, url_for_display: str) -> None:
        self._backend = backend
        self.url_for_display = url_for_display
        try:
            with backend.transaction(write=True) as tx:
                backend.lock_for_migration(tx)
                self.migrations_applied = schema.migrate(tx.execute, tx.query, time.time())
        except BaseException:
            backend.close()
            raise

    # --- writes ---

    def record_requests(self, records: Sequence[RequestRecord]) -> None:
        with self._backend.transaction(write=True) as tx:
            for record in records:
                inserted = tx.execute(
                    f"INSERT INTO requests ({REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (request_id) DO NOTHING",
                    (
                        record.request_id,
                        record.created_at,
                        record.caller,
                        record.messages_json,
                        record.query,
                        record.routed_tier,
                        record.answered_tier,
                        record.win_probability,
                        record.threshold,
                        record.router_id,
                        record.router_version,
                    ),
                )
                if not inserted:  # already stored (a batch sent again): its answers are there too
                    continue
                for position, a in enumerate(record.answers):
                    _insert_answer(tx, record.request_id, position, a)

    def record_answers(self, answers: Sequence[tuple[str, AnswerRecord]]) -> int:
        unknown = 0
        with self._backend.transaction(write=True) as tx:
            for request_id, a in answers:
                # A no-op update: finds the request and, on PostgreSQL, locks its row until commit, so
                # two writers adding answers to one request take positions one after the other.
                if not tx.execute("UPDATE requests SET caller = caller WHERE request_id = ?", (request_id,)):
                    unknown += 1
                    continue
                held = _answers(tx, [request_id])[request_id]
                if a not in held:  # positions run 0..n-1: answers are only ever deleted with their request
                    _insert_answer(tx, request_id, len(held), a)
        return unknown

    def record_feedback(self, feedback: Feedback) -> None:
        if feedback.rating not in RATINGS:
            raise ValueError(f"rating must be -1, 0 or 1, got {feedback.rating}")
        with self._backend.transaction(write=True) as tx:
            rows = tx.query("SELECT caller FROM requests WHERE request_id = ?", (feedback.request_id,))
            if not rows:
                raise UnknownRequest(f"no stored request with id {feedback.request_id!r}")
            if rows[0][0] != feedback.caller:
                raise NotYourRequest(f"request {feedback.request_id!r} was made by another caller")
            tx.execute(
                "INSERT INTO feedback (request_id, caller, rating, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                (feedback.request_id, feedback.caller, feedback.rating, feedback.comment, feedback.created_at),
            )

    def record_judgment(self, judgment: Judgment) -> bool:
        if judgment.winner not in WINNERS:
            raise ValueError(f"winner must be one of {', '.join(WINNERS)}, got {judgment.winner!r}")
        with self._backend.transaction(write=True) as tx:
            if not tx.query("SELECT 1 FROM requests WHERE request_id = ?", (judgment.request_id,)):
                raise UnknownRequest(f"no stored request with id {judgment.request_id!r}")
            # The primary key (request_id, judge_model) makes this once-only, also between processes.
            inserted = tx.execute(
                "INSERT INTO judgments (request_id, judge_model, winner, verdict_first, verdict_second, cost_usd, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, judge_model) DO NOTHING",
                (
                    judgment.request_id,
                    judgment.judge_model,
                    judgment.winner,
                    judgment.verdicts[0],
                    judgment.verdicts[1],
                    judgment.cost_usd,
                    judgment.created_at,
                ),
            )
        return inserted == 1

    def purge(
        self, *, older_than: float | None = None, request_ids: Sequence[str] = (), caller: str | None = None
    ) -> int:
        conditions: list[str] = []
        params: list[Any] = []
        if older_than is not None:
            conditions.append("created_at < ?")
            params.append(older_than)
        if caller is not None:
            conditions.append("caller = ?")
            params.append(caller)
        if not conditions and not request_ids:
            raise ValueError("purge needs at least one of older_than, request_ids, caller")
        with self._backend.transaction(write=True) as tx:
            where = " AND ".join(conditions) or "1 = 1"
            if request_ids:
                found: list[str] = []
                for chunk in _chunks(list(dict.fromkeys(request_ids))):
                    found += _ids(tx, f"{where} AND request_id IN ({_marks(chunk)})", [*params, *chunk])
            else:
                found = _ids(tx, where, params)
            for chunk in _chunks(found):
                for table in ("answers", "judgments", "feedback", "requests"):
                    tx.execute(f"DELETE FROM {table} WHERE request_id IN ({_marks(chunk)})", chunk)
        return len(found)

    # --- reads ---

    def unjudged_pairs(self, judge_model: str, limit: int) -> list[StoredPair]:
        with self._backend.transaction(write=False) as tx:
            rows = tx.query(
                f"SELECT {REQUEST_COLUMNS} FROM requests r WHERE {IS_PAIR} AND NOT EXISTS "
                "(SELECT 1 FROM judgments j WHERE j.request_id = r.request_id AND j.judge_model = ?) "
                "ORDER BY created_at, request_id LIMIT ?",
                (judge_model, max(0, limit)),
            )
            return [_pair(*loaded) for loaded in _load(tx, rows)]

    def pairs(self, *, since: float | None = None, judged_only: bool = False) -> Iterator[StoredPair]:
        condition = IS_PAIR + (f" AND {IS_JUDGED}" if judged_only else "")
        for loaded in self._pages(condition, since):
            yield _pair(*loaded)

    def requests(self, *, since: float | None = None) -> Iterator[RequestRecord]:
        for request, _, _ in self._pages("1 = 1", since):
            yield request

    def _pages(
        self, condition: str, since: float | None
    ) -> Iterator[tuple[RequestRecord, tuple[Judgment, ...], tuple[Feedback, ...]]]:
        """Matching requests oldest first, a page per transaction (keyset pagination)."""
        position, after = ("", []) if since is None else (" AND created_at >= ?", [since])
        while True:
            with self._backend.transaction(write=False) as tx:
                rows = tx.query(
                    f"SELECT {REQUEST_COLUMNS} FROM requests r WHERE {condition}{position} "
                    "ORDER BY created_at, request_id LIMIT ?",
                    (*after, PAGE_SIZE),
                )
                page = _load(tx, rows)
            yield from page
            if len(rows) < PAGE_SIZE:
                return
            # The next page starts after the last row read (created_at ties broken by request_id).
            position, after = " AND (created_at, request_id) > (?, ?)", [rows[-1][1], rows[-1][0]]

    def close(self) -> None:
        self._backend.close()


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), PAGE_SIZE):
        yield values[start : start + PAGE_SIZE]


def _ids(tx: Transaction, where: str, params: Sequence[Any]) -> list[str]:
    return [row[0] for row in tx.query(f"SELECT request_id FROM requests WHERE {where}", params)]


def _insert_answer(tx: Transaction, request_id: str, position: int, a: AnswerRecord) -> None:
    tx.execute(
        f"INSERT INTO answers (request_id, position, {ANSWER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request_id,
            position,
            a.tier,
            a.model,
            a.text,
            a.latency_ms,
            a.prompt_tokens,
            a.completion_tokens,
            a.cost_usd,
            int(a.shadow),
            a.error,
        ),
    )


def _answers(tx: Transaction, ids: list[str]) -> dict[str, list[AnswerRecord]]:
    """The answers of the requests ids, each request's in position order."""
    answers: dict[str, list[AnswerRecord]] = {i: [] for i in ids}
    for row in tx.query(
        f"SELECT request_id, {ANSWER_COLUMNS} FROM answers WHERE request_id IN ({_marks(ids)}) "
        "ORDER BY request_id, position",
        ids,
    ):
        tier, model, text, latency, prompt, completion, cost, shadow, error = row[1:]
        answers[row[0]].append(
            AnswerRecord(
                tier, model, text, float(latency), int(prompt), int(completion), float(cost), bool(shadow), error
            )
        )
    return answers


def _load(
    tx: Transaction, rows: list[tuple[Any, ...]]
) -> list[tuple[RequestRecord, tuple[Judgment, ...], tuple[Feedback, ...]]]:
    """The requests in rows with their answers, judgments and feedback, in the order of rows."""
    ids = [row[0] for row in rows]
    if not ids:
        return []
    marks = _marks(ids)
    answers = _answers(tx, ids)
    judgments: dict[str, list[Judgment]] = {i: [] for i in ids}
    for request_id, judge_model, winner, first, second, cost, created_at in tx.query(
        "SELECT request_id, judge_model, winner, verdict_first, verdict_second, cost_usd, created_at "
        f"FROM judgments WHERE request_id IN ({marks}) ORDER BY created_at, judge_model",
        ids,
    ):
        judgments[request_id].append(
            Judgment(request_id, judge_model, winner, (first, second), float(cost), float(created_at))
        )
    feedback: dict[str, list[Feedback]] = {i: [] for i in ids}
    for request_id, caller, rating, comment, created_at in tx.query(
        f"SELECT request_id, caller, rating, comment, created_at FROM feedback WHERE request_id IN ({marks}) "
        "ORDER BY created_at",
        ids,
    ):
        feedback[request_id].append(Feedback(request_id, caller, int(rating), comment, float(created_at)))
    loaded = []
    for row in rows:
        request_id, created_at, caller, messages, query, routed, answered, p_win, threshold, rid, version = row
        request = RequestRecord(
            request_id,
            float(created_at),
            caller,
            messages,
            query,
            routed,
            answered,
            float(p_win),
            float(threshold),
            rid,
            version,
            tuple(answers[request_id]),
        )
        loaded.append((request, tuple(judgments[request_id]), tuple(feedback[request_id])))
    return loaded


def _pair(request: RequestRecord, judgments: tuple[Judgment, ...], feedback: tuple[Feedback, ...]) -> StoredPair:
    """The pair view of a request: its first successful answer of each tier."""
    chosen = tuple(next(a for a in request.answers if a.tier == tier and a.ok) for tier in ("small", "premium"))
    return StoredPair(replace(request, answers=chosen), judgments, feedback)
