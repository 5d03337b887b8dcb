"""Shadow routing and the traffic recorder, on a real router, scorer, fake endpoints and SQLite store.

The router model gives every query 0.9, so requests route premium (and shadow to small) unless a
request threshold above 0.9 routes them small.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from dataclasses import dataclass

import pytest

from orchestrouter.router.config import ConfigError, RouterConfig, ShadowConfig
from orchestrouter.router.dispatch.breaker import BreakerSettings
from orchestrouter.router.shadow import ShadowRouter
from orchestrouter.router.traffic_recorder import TrafficRecorder
from orchestrouter.runtime import semconv
from orchestrouter.store import RequestRecord, Store, open_store
from orchestrouter.v1 import router_pb2
from tests.support.dispatch_stack import Stack, stack_config, with_dispatch
from tests.support.fake_openai import Fault
from tests.support.pair import QUESTION, start_pair
from tests.support.store_records import answer, request


@dataclass
class ShadowStack:
    """ShadowStack: a Stack whose router shadows at some rate and records into the SQLite store at url."""

    stack: Stack
    url: str
    closed: bool = False
    _reader: Store | None = None

    @property
    def shadow(self) -> ShadowRouter:
        shadow = self.stack.router.core.traffic.shadow
        assert shadow is not None
        return shadow

    @property
    def recorder(self) -> TrafficRecorder:
        recorder = self.stack.router.core.traffic.recorder
        assert recorder is not None
        return recorder

    @property
    def store(self) -> Store:
        """The router's store while it runs; once it is closed, the same file opened anew."""
        if not self.closed:
            assert self.stack.router.store is not None
            return self.stack.router.store
        if self._reader is None:
            self._reader = open_store(self.url)
        return self._reader

    def records(self) -> dict[str, RequestRecord]:
        return {r.request_id: r for r in self.store.requests()}

    def wait_for_records(self, count: int, answers: int | None = None, timeout_s: float = 30.0) -> dict:
        """The store's records once it holds count of them (each with `answers` answers, when given)."""
        deadline = time.monotonic() + timeout_s
        while True:
            records = self.records()
            if len(records) >= count and all(answers is None or len(r.answers) == answers for r in records.values()):
                return records
            assert time.monotonic() < deadline, f"{len(records)} records after {timeout_s}s, not {count}"
            time.sleep(0.02)


@pytest.fixture
def shadow_stack(loop_thread, fakes, premium_leaning_model, tmp_path):
    """shadow_stack(rate, fake_small=None, shadow=None, **router_fields): see ShadowStack."""
    started: list[ShadowStack] = []

    def start(
        rate: float,
        fake_small: dict | None = None,
        shadow: dict | None = None,
        **router_fields,
    ) -> ShadowStack:
        small, premium = fakes("small", **(fake_small or {})), fakes("premium")
        url = f"sqlite:///{tmp_path / f'traffic-{len(started)}.db'}"
        settings = ShadowConfig(rate=rate, **(shadow or {}))
        config = stack_config(small, premium, {}, {}, shadow=settings, store=url, **router_fields)
        p = loop_thread.run(start_pair(premium_leaning_model, config))
        started.append(ShadowStack(Stack(p.scorer, p.router, p.channel, p.loop, small, premium), url))
        return started[-1]

    yield start
    for s in started:
        if not s.closed:
            loop_thread.run(s.stack.close())
        if s._reader is not None:
            s._reader.close()


def close(loop_thread, s: ShadowStack) -> None:
    """Closes the router (and its store); the store's file stays readable through s.store."""
    loop_thread.run(s.stack.close())
    s.closed = True


def test_rate_one_records_the_served_and_the_shadow_answer(shadow_stack):
    s = shadow_stack(1.0)
    reply = s.stack.route()
    assert reply.decision.tier == router_pb2.TIER_PREMIUM
    assert reply.answer == s.stack.premium.answer_text()
    record = s.wait_for_records(1, answers=2)[reply.request_id]
    served, shadowed = record.answers
    assert (served.tier, served.shadow, served.text, served.error) == (
        "premium",
        False,
        s.stack.premium.answer_text(),
        "",
    )
    assert (shadowed.tier, shadowed.model, shadowed.shadow, shadowed.text, shadowed.error) == (
        "small",
        "small-model",
        True,
        s.stack.small.answer_text(),
        "",
    )
    # Priced at the small tier's prices (0.10 in, 0.40 out per million tokens).
    prompt_tokens, completion_tokens = s.stack.small.usage_for(QUESTION)
    assert (shadowed.prompt_tokens, shadowed.completion_tokens) == (prompt_tokens, completion_tokens)
    assert shadowed.cost_usd == pytest.approx((prompt_tokens * 0.10 + completion_tokens * 0.40) / 1e6)
    assert (record.query, record.routed_tier, record.answered_tier) == (QUESTION, "premium", "premium")
    assert record.win_probability == pytest.approx(0.9, abs=1e-6) and record.router_version == "test-1"
    assert '"content": "What is six times seven?"' in record.messages_json
    # The shadow call is not a caller's call: the small tier's GetStatus counters stay at zero.
    small = s.stack.endpoint("small")
    assert (small.requests, small.cost_usd) == (0, 0.0)
    assert s.shadow.outcomes == {semconv.OUTCOME_OK: 1}


def test_rate_zero_records_the_served_answer_alone_and_calls_no_other_tier(shadow_stack):
    s = shadow_stack(0.0)
    ids = [s.stack.route().request_id for _ in range(5)]
    records = s.wait_for_records(5)
    assert set(records) == set(ids)
    assert all([a.tier for a in r.answers] == ["premium"] for r in records.values())
    assert s.stack.small.calls == 0 and s.stack.router.core.traffic.shadow is None


def test_the_share_shadowed_is_drawn_per_request(shadow_stack):
    s = shadow_stack(0.5)
    s.shadow.rng = itertools.cycle([0.25, 0.75]).__next__  # below the rate, above it, ...
    replies = [s.stack.route() for _ in range(10)]
    records = s.wait_for_records(10)
    shadowed = [len(records[r.request_id].answers) == 2 for r in replies]
    assert shadowed == [True, False] * 5
    assert s.stack.small.calls == 5


def test_a_stream_is_recorded_with_its_text_and_shadowed_after_it_ends(shadow_stack):
    s = shadow_stack(1.0)
    events = list(s.stack.route_stream())
    text = "".join(e.delta for e in events if e.HasField("delta"))
    assert text == s.stack.premium.answer_text()
    request_id = events[-1].done.request_id
    record = s.wait_for_records(1, answers=2)[request_id]
    assert [(a.tier, a.text, a.shadow) for a in record.answers] == [
        ("premium", text, False),
        ("small", s.stack.small.answer_text(), True),
    ]


def test_a_failing_shadow_tier_changes_no_answer_and_opens_no_circuit(shadow_stack):
    # The breaker would open after 3 failed calls in a row; 12 failing shadow calls must not open it.
    s = shadow_stack(
        1.0,
        fake_small={"schedule": lambda _: Fault.status_code(500)},
        dispatch=with_dispatch(breaker=BreakerSettings(consecutive_failures=3)),
    )
    replies = [s.stack.route() for _ in range(12)]
    assert [r.answer for r in replies] == [s.stack.premium.answer_text()] * 12
    assert all(r.decision.tier == router_pb2.TIER_PREMIUM and not r.decision.fell_back for r in replies)
    records = s.wait_for_records(12, answers=2)
    errors = [r.answers[1].error for r in records.values()]
    assert all("500" in e for e in errors), errors
    assert s.stack.endpoint("small").circuit == router_pb2.CIRCUIT_STATE_CLOSED
    assert sum(s.shadow.outcomes.values()) == 12 and s.shadow.outcomes[semconv.OUTCOME_OK] == 0


def test_a_shadowed_request_can_be_rated_at_once_and_its_pair_completes_when_the_shadow_ends(shadow_stack):
    s = shadow_stack(1.0, fake_small={"schedule": lambda _: Fault.held()})
    reply = s.stack.route()
    assert reply.answer == s.stack.premium.answer_text()
    s.stack.small.wait_for_requests(1)  # the shadow call is in flight, held until release_cut()
    # Rated while its shadow call hangs: the request was recorded when it was answered.
    s.stack.stub.Feedback(
        router_pb2.FeedbackRequest(request_id=reply.request_id, rating=router_pb2.RATING_GOOD, comment="quick"),
        timeout=10,
    )
    assert s.shadow.in_flight == 1
    assert [a.tier for a in s.records()[reply.request_id].answers] == ["premium"]
    assert list(s.store.pairs()) == [] and s.store.unjudged_pairs("judge-1", 10) == []
    s.stack.small.release_cut()
    record = s.wait_for_records(1, answers=2)[reply.request_id]
    assert [(a.tier, a.shadow, a.text) for a in record.answers] == [
        ("premium", False, s.stack.premium.answer_text()),
        ("small", True, s.stack.small.answer_text()),
    ]
    (pair,) = s.store.unjudged_pairs("judge-1", 10)
    assert pair.request.request_id == reply.request_id and set(pair.request.answers) == set(record.answers)
    assert [(f.rating, f.comment) for f in pair.feedback] == [(1, "quick")]
    assert (s.recorder.recorded, s.recorder.dropped) == (2, 0)  # the request, then its shadow answer


def test_a_hanging_shadow_tier_delays_no_caller_and_is_dropped_at_the_cap(shadow_stack, loop_thread):
    s = shadow_stack(1.0, fake_small={"schedule": lambda _: Fault.hang()}, shadow={"max_concurrency": 2})
    started = time.monotonic()
    replies = [s.stack.route() for _ in range(6)]
    elapsed = time.monotonic() - started
    assert [r.answer for r in replies] == [s.stack.premium.answer_text()] * 6
    # The shadow timeout is 30 s: a caller that waited for a hanging shadow call would take that long.
    assert elapsed < 10, f"six routes took {elapsed:.1f}s"
    assert s.shadow.in_flight == 2
    assert s.shadow.outcomes == {semconv.SHADOW_DROPPED_FULL: 4}
    # Every request is recorded at once with its served answer, hanging shadow or not.
    assert len(s.wait_for_records(6)) == 6
    # Shutdown cancels the two hanging calls; their requests are still recorded, flushed before close returns.
    close(loop_thread, s)
    records = s.records()
    assert len(records) == 6
    cancelled = [r.answers[1] for r in records.values() if len(r.answers) == 2]
    assert len(cancelled) == 2 and all("shut down" in a.error and a.text == "" for a in cancelled)


def test_an_open_circuit_drops_the_shadow_call(shadow_stack):
    breaker = BreakerSettings(consecutive_failures=1, cooldown_s=600)
    s = shadow_stack(1.0, dispatch=with_dispatch(max_retries=0, breaker=breaker))
    s.stack.small.enqueue(Fault.status_code(500))
    # Routed small (threshold above 0.9), failed, answered by premium: the small circuit is now open.
    reply = s.stack.route(threshold=0.95)
    assert reply.decision.fell_back and reply.decision.tier == router_pb2.TIER_PREMIUM
    assert s.stack.endpoint("small").circuit == router_pb2.CIRCUIT_STATE_OPEN
    s.stack.route()
    assert s.shadow.outcomes == {semconv.SHADOW_DROPPED_BREAKER: 2}
    assert s.stack.small.calls == 1  # only the routed call; no shadow call reached it
    records = s.wait_for_records(2)
    assert all(len(r.answers) == 1 for r in records.values())


def test_shutdown_flushes_every_queued_record(shadow_stack, loop_thread):
    s = shadow_stack(0.0)
    for _ in range(20):
        s.stack.route()
    close(loop_thread, s)
    assert len(s.records()) == 20


def test_a_failing_store_fails_no_answer_and_counts_the_lost_records(shadow_stack):
    s = shadow_stack(0.0)
    s.store.close()  # every later write fails
    replies = [s.stack.route() for _ in range(3)]
    assert [r.answer for r in replies] == [s.stack.premium.answer_text()] * 3
    deadline = time.monotonic() + 30
    while s.recorder.dropped < 3:
        assert time.monotonic() < deadline, f"{s.recorder.dropped} records counted as dropped"
        time.sleep(0.02)
    assert s.recorder.recorded == 0


def test_a_full_queue_drops_and_counts_records_without_blocking(tmp_path):
    path = tmp_path / "locked.db"
    store = open_store(f"sqlite:///{path}")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the store's writes wait for this lock
    recorder = TrafficRecorder(store, max_queue=2, max_batch=1)
    try:
        started = time.monotonic()
        for i in range(10):
            recorder.record(request(f"r{i}"))
        assert time.monotonic() - started < 1.0, "record() must never wait for the store"
        # One record (a batch of one) is with the blocked writer, two wait in the queue: the rest are dropped.
        assert recorder.dropped >= 7
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        recorder.close()
    assert recorder.recorded + recorder.dropped == 10
    assert len(list(store.requests())) == recorder.recorded >= 1
    store.close()


def test_a_later_answer_joins_its_request_and_one_without_a_stored_request_is_counted(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'traffic.db'}")
    recorder = TrafficRecorder(store)
    served = request("r1", answers=(answer("premium"),))
    recorder.record(served)
    recorder.record_answer("r1", answer("small", shadow=True))  # likely in the same batch: requests go first
    recorder.record_answer("r-dropped-earlier", answer("small", shadow=True))
    recorder.close()
    assert (recorder.recorded, recorder.dropped) == (2, 1)
    assert [r.answers for r in store.requests()] == [(answer("premium"), answer("small", shadow=True))]
    store.close()


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"ORCHESTROUTER_SHADOW_RATE": "1.5"}, "^ORCHESTROUTER_SHADOW_RATE must be in \\[0, 1\\]"),
        ({"ORCHESTROUTER_SHADOW_RATE": "nan"}, "^ORCHESTROUTER_SHADOW_RATE "),
        ({"ORCHESTROUTER_SHADOW_MAX_CONCURRENCY": "0"}, "^ORCHESTROUTER_SHADOW_MAX_CONCURRENCY must be >= 1"),
        ({"ORCHESTROUTER_SHADOW_TIMEOUT_S": "0"}, "^ORCHESTROUTER_SHADOW_TIMEOUT_S must be > 0"),
        ({"ORCHESTROUTER_SHADOW_TIMEOUT_S": "inf"}, "^ORCHESTROUTER_SHADOW_TIMEOUT_S "),
    ],
)
def test_shadow_settings_are_checked_at_startup(env, fragment):
    with pytest.raises(ConfigError, match=fragment) as err:
        RouterConfig.from_env(env)
    assert "\n" not in str(err.value)


def test_shadow_settings_are_read_from_the_environment():
    config = RouterConfig.from_env(
        {
            "ORCHESTROUTER_SHADOW_RATE": "0.25",
            "ORCHESTROUTER_SHADOW_MAX_CONCURRENCY": "3",
            "ORCHESTROUTER_SHADOW_TIMEOUT_S": "12",
        }
    )
    assert config.shadow == ShadowConfig(rate=0.25, max_concurrency=3, timeout_s=12.0)
    assert RouterConfig.from_env({}).shadow.rate == 0.0
