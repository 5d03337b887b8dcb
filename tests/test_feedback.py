"""The Feedback RPC over real gRPC with authentication on, on a router with a SQLite or PostgreSQL store."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from orchestrouter.client import RouterClient
from orchestrouter.router.feedback import FeedbackDesk
from orchestrouter.router.traffic_recorder import TrafficRecorder
from orchestrouter.runtime.errors import NotFound
from orchestrouter.store import Feedback, open_store
from orchestrouter.v1 import router_pb2
from tests.support.doubles import replace_file
from tests.support.store_records import raw_rows, request

ALICE = "alice-token-0f3c9a7e5b1d"
BOB = "bob-token-6e2a8c4f0b9d"


@pytest.fixture
def tokens_file(tmp_path):
    path = tmp_path / "tokens"
    replace_file(path, f"alice:{ALICE}\nbob:{BOB}\n")
    return path


@pytest.fixture
def stored(store_url):
    """The store with one recent request by alice and one by bob (recent: the router's retention keeps them)."""
    store = open_store(store_url)
    now = time.time()
    store.record_requests([request("req-alice", now, caller="alice"), request("req-bob", now, caller="bob")])
    yield store
    store.close()


@pytest.fixture
def router(pair, random_model, tokens_file, store_url, stored):
    return pair(random_model, auth_tokens_file=str(tokens_file), store=store_url)


def client(router, token: str) -> RouterClient:
    return RouterClient(router.router.target, timeout_s=10, token=token)


def status_of(call) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def test_a_caller_rates_its_own_request_and_not_another_callers(router, stored):
    with client(router, ALICE) as alice:
        alice.feedback("req-alice", 1, "exactly right")
        alice.feedback("req-alice", -1)
        code, details = status_of(lambda: alice.feedback("req-bob", -1, "sabotage"))
    assert (code, details) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "feedback is taken only from the caller that made the request",
    )
    (pair,) = [p for p in stored.pairs() if p.request.request_id == "req-alice"]
    assert [(f.caller, f.rating, f.comment) for f in pair.feedback] == [
        ("alice", 1, "exactly right"),
        ("alice", -1, ""),
    ]
    assert not [p for p in stored.pairs() if p.request.request_id == "req-bob"][0].feedback


def test_feedback_errors_carry_their_status(router):
    with client(router, BOB) as bob:
        cases = {
            "unknown id": lambda: bob.feedback("req-nobody-made", 1),
            "empty id": lambda: bob.feedback("", 1),
            "long id": lambda: bob.feedback("x" * 129, 1),
            "bad rating": lambda: bob.feedback("req-bob", 5),
            "long comment": lambda: bob.feedback("req-bob", 1, "y" * 2001),
        }
        codes = {name: status_of(call)[0] for name, call in cases.items()}
    assert codes == {
        "unknown id": grpc.StatusCode.NOT_FOUND,
        "empty id": grpc.StatusCode.INVALID_ARGUMENT,
        "long id": grpc.StatusCode.INVALID_ARGUMENT,
        "bad rating": grpc.StatusCode.INVALID_ARGUMENT,
        "long comment": grpc.StatusCode.INVALID_ARGUMENT,
    }
    with RouterClient(router.router.target, timeout_s=10) as anonymous:
        assert status_of(lambda: anonymous.feedback("req-bob", 1))[0] == grpc.StatusCode.UNAUTHENTICATED


def test_a_failing_store_is_unavailable_and_the_router_serves_on(router, store_url):
    raw_rows(store_url, "DROP TABLE feedback")  # every later write of feedback fails in the database
    with client(router, BOB) as bob:
        code, details = status_of(lambda: bob.feedback("req-bob", 1))
        assert (code, details) == (grpc.StatusCode.UNAVAILABLE, "the traffic store is unavailable; try again later")
        answer = bob.route("hello", dry_run=True)
    assert answer.request_id


def test_without_a_store_feedback_is_a_failed_precondition(pair, random_model):
    p = pair(random_model)
    code, details = status_of(
        lambda: p.stub.Feedback(router_pb2.FeedbackRequest(request_id="r1", rating=router_pb2.RATING_GOOD), timeout=10)
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "ORCHESTROUTER_STORE" in details


def test_feedback_stored_by_the_router_is_the_stores_feedback(router, stored):
    with client(router, BOB) as bob:
        bob.feedback("req-bob", 0, "fine")
    (pair,) = [p for p in stored.pairs() if p.request.request_id == "req-bob"]
    (feedback,) = pair.feedback
    assert feedback == Feedback("req-bob", "bob", 0, "fine", feedback.created_at)
    assert feedback.created_at > 1_700_000_000


def test_feedback_for_a_request_still_in_the_recorders_queue_waits_for_it(postgres_server):
    """Rated the moment it was answered, before the writer thread stored it: found once it is written."""
    url = postgres_server.new_database()
    writes, reads = open_store(url), open_store(url)  # the writer's and the desk's own connections
    recorder = TrafficRecorder(writes)
    desk = FeedbackDesk(reads, recorder)
    import psycopg

    try:
        with psycopg.connect(url) as blocker, ThreadPoolExecutor(1) as pool:
            # Writes to requests wait for this lock; the desk's reads of it go on (and find nothing yet).
            blocker.execute("LOCK TABLE requests IN EXCLUSIVE MODE")
            recorder.record(request("r-new", time.time(), caller="alice"))
            rated = pool.submit(asyncio.run, desk.submit("r-new", 1, "fast", "alice"))
            time.sleep(0.5)
            assert not rated.done(), rated.exception()  # waiting for the queued record, not NOT_FOUND
            blocker.rollback()  # the writer goes ahead; the desk asks again
            rated.result(timeout=30)
        (pair,) = reads.pairs()
        assert [(f.request_id, f.rating, f.comment) for f in pair.feedback] == [("r-new", 1, "fast")]
        # An id nobody made is still NOT_FOUND once the (empty) queue is written.
        with pytest.raises(NotFound, match="no stored request"):
            asyncio.run(desk.submit("r-nobody-made", 1, "", "alice"))
    finally:
        recorder.close()
        writes.close()
        reads.close()
