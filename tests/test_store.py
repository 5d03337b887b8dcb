"""The traffic store: the same tests against SQLite and a real PostgreSQL server (the store_url fixture)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestrouter.store import (
    Feedback,
    Judgment,
    NotYourRequest,
    StoreError,
    UnknownRequest,
    open_store,
)
from orchestrouter.store import sql_store as sql_store_module
from orchestrouter.store.schema import LATEST_VERSION
from tests.support.postgres import PASSWORD
from tests.support.store_records import answer, raw_rows, request, stored_text


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def judgment(request_id: str, judge: str = "judge-1", winner: str = "premium") -> Judgment:
    return Judgment(request_id, judge, winner, ("B", "A"), 0.0004, 1_700_000_100.0)


def test_migrations_are_versioned_and_idempotent(store_url):
    first = open_store(store_url)
    assert first.migrations_applied == [LATEST_VERSION]
    first.close()
    again = open_store(store_url)
    assert again.migrations_applied == []
    again.close()
    assert raw_rows(store_url, "SELECT version FROM schema_version") == [(LATEST_VERSION,)]


def test_replicas_opening_at_once_migrate_exactly_once(store_url):
    barrier = threading.Barrier(6)

    def open_together():
        barrier.wait()
        s = open_store(store_url)
        applied = s.migrations_applied
        s.close()
        return applied

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: open_together(), range(6)))
    assert sorted(results) == [[]] * 5 + [[LATEST_VERSION]]
    assert raw_rows(store_url, "SELECT version FROM schema_version") == [(LATEST_VERSION,)]


def test_a_schema_newer_than_the_code_is_refused(store_url):
    open_store(store_url).close()
    raw_rows(store_url, "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)")
    with pytest.raises(StoreError, match="newer than this release"):
        open_store(store_url)


def test_requests_round_trip_with_every_answer(store, store_url):
    served_only = request("r-served", 1_700_000_001.0, answers=(answer("premium"),))
    fallback = request(
        "r-fallback",
        1_700_000_002.0,
        answers=(answer("small", error="HTTP 503"), answer("premium", "p\u00e9 \U0001f600")),
    )
    shadowed = request("r-shadow", 1_700_000_003.0)
    store.record_requests([served_only, fallback, shadowed])
    assert list(store.requests()) == [served_only, fallback, shadowed]
    # A batch sent again changes nothing (the writer may retry after a failure).
    store.record_requests([shadowed])
    assert list(store.requests()) == [served_only, fallback, shadowed]
    assert raw_rows(store_url, "SELECT COUNT(*) FROM answers") == [(5,)]


def test_answers_added_later_complete_a_pair_once(store, store_url):
    """A shadowed request is stored with its served answer first; its shadow answer joins it later."""
    served, shadow = answer("small"), answer("premium", shadow=True)
    store.record_requests([request("r1", 1.0, answers=(served,)), request("r2", 2.0, answers=(served,))])
    assert store.unjudged_pairs("judge-1", 10) == [] and list(store.pairs()) == []
    failed = answer("small", error="timeout", shadow=True)
    # One batch: r1's shadow answer, an answer for a request never stored (skipped, counted), r2's failed shadow.
    assert store.record_answers([("r1", shadow), ("r-never-stored", shadow), ("r2", failed)]) == 1
    assert [p.request.request_id for p in store.unjudged_pairs("judge-1", 10)] == ["r1"]
    assert [p.request.answers for p in store.pairs()] == [(served, shadow)]
    assert {r.request_id: r.answers for r in store.requests()} == {"r1": (served, shadow), "r2": (served, failed)}
    # The same batch sent again (a retry) changes nothing; a further answer goes after those held.
    assert store.record_answers([("r1", shadow), ("r2", failed)]) == 0
    retried = answer("small", "second try", shadow=True)
    assert store.record_answers([("r2", retried)]) == 0
    assert {r.request_id: r.answers for r in store.requests()} == {
        "r1": (served, shadow),
        "r2": (served, failed, retried),
    }
    assert raw_rows(store_url, "SELECT request_id, position FROM answers ORDER BY request_id, position") == [
        ("r1", 0),
        ("r1", 1),
        ("r2", 0),
        ("r2", 1),
        ("r2", 2),
    ]
    assert store.record_answers([]) == 0


def test_concurrent_writers_adding_answers_to_one_request_lose_none(store_url):
    seed = open_store(store_url)
    seed.record_requests([request("r1", answers=(answer("small"),))])
    seed.close()
    writers = [open_store(store_url) for _ in range(4)]
    barrier = threading.Barrier(4)

    def add(indexed) -> int:
        index, store = indexed
        barrier.wait()
        return sum(store.record_answers([("r1", answer("premium", f"answer {index}-{n}"))]) for n in range(5))

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(add, enumerate(writers))) == [0] * 4
    for s in writers:
        s.close()
    assert raw_rows(store_url, "SELECT COUNT(*), COUNT(DISTINCT position), MAX(position) FROM answers") == [
        (21, 21, 20)
    ]


def test_since_filters_are_inclusive_and_pages_are_complete(store, monkeypatch):
    monkeypatch.setattr(sql_store_module, "PAGE_SIZE", 3)
    # Equal timestamps across a page boundary: the keyset (created_at, request_id) loses none.
    records = [request(f"r{i:02d}", 1_700_000_000.0 + i // 2) for i in range(10)]
    store.record_requests(list(reversed(records)))
    assert [r.request_id for r in store.requests()] == [r.request_id for r in records]
    since = records[4].created_at
    assert [r.request_id for r in store.requests(since=since)] == [f"r{i:02d}" for i in range(4, 10)]
    assert [p.request.request_id for p in store.pairs(since=since)] == [f"r{i:02d}" for i in range(4, 10)]
    assert list(store.requests(since=2_000_000_000.0)) == []


def test_pairs_are_requests_both_tiers_answered_without_error(store):
    store.record_requests(
        [
            request("pair", 1.0, answers=(answer("small", error="timeout"), answer("small"), answer("premium"))),
            request("premium-failed", 2.0, answers=(answer("small"), answer("premium", error="HTTP 500"))),
            request("one-tier", 3.0, answers=(answer("small"),)),
        ]
    )
    pairs = store.unjudged_pairs("judge-1", 10)
    assert [p.request.request_id for p in pairs] == ["pair"]
    assert [(a.tier, a.error) for a in pairs[0].request.answers] == [("small", ""), ("premium", "")]
    assert pairs[0].answer("premium").text == "premium answer"
    assert [p.request.request_id for p in store.pairs()] == ["pair"]


def test_each_pair_is_judged_once_per_judge_model(store):
    store.record_requests([request(f"r{i}", float(i)) for i in range(5)])
    assert [p.request.request_id for p in store.unjudged_pairs("judge-1", 3)] == ["r0", "r1", "r2"]
    assert store.record_judgment(judgment("r1")) is True
    assert store.record_judgment(judgment("r1", winner="small")) is False  # nothing written
    assert [p.request.request_id for p in store.unjudged_pairs("judge-1", 10)] == ["r0", "r2", "r3", "r4"]
    assert len(store.unjudged_pairs("judge-2", 10)) == 5  # another judge model judges on its own
    judged = list(store.pairs(judged_only=True))
    assert [p.request.request_id for p in judged] == ["r1"]
    assert judged[0].judgments == (judgment("r1"),)
    with pytest.raises(UnknownRequest):
        store.record_judgment(judgment("no-such-request"))


def test_two_concurrent_judges_write_each_judgment_once(store_url):
    seed = open_store(store_url)
    seed.record_requests([request(f"r{i}", float(i)) for i in range(20)])
    seed.close()
    judges = [open_store(store_url), open_store(store_url)]  # two processes' worth of connections
    barrier = threading.Barrier(2)

    def judge_all(store) -> list[str]:
        barrier.wait()
        won = []
        for pair in store.unjudged_pairs("judge-1", 100):
            if store.record_judgment(judgment(pair.request.request_id)):
                won.append(pair.request.request_id)
        return won

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(judge_all, judges)
    for s in judges:
        s.close()
    assert sorted(first + second) == sorted(f"r{i}" for i in range(20))
    assert raw_rows(store_url, "SELECT COUNT(*) FROM judgments") == [(20,)]


def test_feedback_only_from_the_caller_who_made_the_request(store):
    store.record_requests([request("r1", caller="alice")])
    with pytest.raises(NotYourRequest):
        store.record_feedback(Feedback("r1", "mallory", -1, "", 5.0))
    with pytest.raises(UnknownRequest):
        store.record_feedback(Feedback("r-unknown", "alice", 1, "", 5.0))
    with pytest.raises(ValueError, match="rating"):
        store.record_feedback(Feedback("r1", "alice", 2, "", 5.0))
    store.record_feedback(Feedback("r1", "alice", 1, "spot on \u2713", 6.0))
    store.record_feedback(Feedback("r1", "alice", -1, "changed my mind", 7.0))
    (pair,) = store.pairs()
    assert pair.feedback == (
        Feedback("r1", "alice", 1, "spot on \u2713", 6.0),
        Feedback("r1", "alice", -1, "changed my mind", 7.0),
    )


@pytest.mark.parametrize(
    "criteria, purged",
    [
        ({"older_than": 1_700_000_002.0}, {"old-alice", "old-bob"}),
        ({"request_ids": ["new-alice", "old-bob", "not-stored"]}, {"new-alice", "old-bob"}),
        ({"caller": "alice"}, {"old-alice", "new-alice"}),
        ({"older_than": 1_700_000_002.0, "caller": "bob"}, {"old-bob"}),
    ],
)
def test_purge_removes_prompt_text_answers_judgments_and_feedback(store_url, criteria, purged):
    store = open_store(store_url)
    store.record_requests(
        [
            request("old-alice", 1_700_000_000.0, caller="alice", prompt="old alice secret plan"),
            request("old-bob", 1_700_000_001.0, caller="bob", prompt="old bob secret plan"),
            request("new-alice", 1_700_000_003.0, caller="alice", prompt="new alice secret plan"),
            request("new-bob", 1_700_000_004.0, caller="bob", prompt="new bob secret plan"),
        ]
    )
    for request_id, caller in (("old-alice", "alice"), ("old-bob", "bob"), ("new-alice", "alice"), ("new-bob", "bob")):
        store.record_judgment(judgment(request_id))
        store.record_feedback(Feedback(request_id, caller, 1, f"comment on {request_id}", 1.0))
    assert store.purge(**criteria) == len(purged)
    kept = {"old-alice", "old-bob", "new-alice", "new-bob"} - purged
    assert {r.request_id for r in store.requests()} == kept
    text = stored_text(store_url)
    for request_id in purged:
        assert request_id not in text
        assert request_id.replace("-", " ") + " secret plan" not in text
    for request_id in kept:
        assert request_id.replace("-", " ") + " secret plan" in text
    assert store.purge(**criteria) == 0
    store.close()


def test_purge_without_a_criterion_is_refused(store):
    store.record_requests([request("r1")])
    with pytest.raises(ValueError, match="at least one"):
        store.purge()
    assert [r.request_id for r in store.requests()] == ["r1"]


def test_bad_urls_and_unreachable_stores_are_store_errors(tmp_path, postgres_server):
    with pytest.raises(StoreError, match="store URL must be"):
        open_store("mysql://root:hunter2@db/x")
    for malformed in ("postgresql://u:hunter2-pw@db:notaport/x", "postgresql://u:hunter2-pw@[::1/x"):
        with pytest.raises(StoreError, match="is malformed") as refused:
            open_store(malformed)
        assert "hunter2-pw" not in str(refused.value)
    with pytest.raises(StoreError, match="cannot open the sqlite store"):
        open_store(f"sqlite:///{tmp_path}/no/such/folder/store.db")
    wrong = postgres_server.url(password="wr0ng-Pass")
    with pytest.raises(StoreError) as refused:
        open_store(wrong)
    assert "wr0ng-Pass" not in str(refused.value)
    assert "postgres:***@" in str(refused.value)


def test_the_password_never_appears_in_the_display_url_or_errors(postgres_server):
    url = postgres_server.new_database()
    assert PASSWORD in url
    store = open_store(url)
    assert PASSWORD not in store.url_for_display
    assert store.url_for_display == url.replace(PASSWORD, "***")
    store.close()
    query_form = url.replace(f":{PASSWORD}@", "@") + f"?password={PASSWORD}"
    store = open_store(query_form)
    assert PASSWORD not in store.url_for_display
    store.close()
    with pytest.raises(StoreError) as down:
        open_store(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nothing")
    assert PASSWORD not in str(down.value)


def test_a_postgres_store_reconnects_after_the_server_drops_it(postgres_server):
    url = postgres_server.new_database()
    store = open_store(url)
    store.record_requests([request("r1")])
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    with pytest.raises(StoreError):  # the call that finds the connection gone fails cleanly...
        store.record_requests([request("r2")])
    store.record_requests([request("r3")])  # ...and the next one connects again
    assert [r.request_id for r in store.requests()] == ["r1", "r3"]
    store.close()
