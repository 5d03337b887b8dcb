"""The router and its traffic store: configuration, opening at startup, hourly retention purges."""

from __future__ import annotations

import logging
import time

import pytest

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.router.retention import DAY_S, RetentionPurger
from orchestrouter.router.server import StartupError
from orchestrouter.store import open_store
from tests.support.pair import start_pair
from tests.support.store_records import raw_rows, request

PASSWORD = "hunter2-store-pw"


def wait_until(condition, timeout_s: float = 20.0) -> bool:
    """Polls condition (a store query) until it holds or timeout_s passes; generous for a loaded machine."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_store_settings_come_from_the_environment(tmp_path):
    assert (RouterConfig.from_env({}).store, RouterConfig.from_env({}).store_retention_days) == ("", 30.0)
    url = f"postgresql://router:{PASSWORD}@db:5432/traffic"
    c = RouterConfig.from_env({"ORCHESTROUTER_STORE": url, "ORCHESTROUTER_STORE_RETENTION_DAYS": "7.5"})
    assert (c.store, c.store_retention_days) == (url, 7.5)
    assert PASSWORD not in repr(c)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"ORCHESTROUTER_STORE": f"mysql://root:{PASSWORD}@db/x"}, "ORCHESTROUTER_STORE: store URL must be sqlite"),
        ({"ORCHESTROUTER_STORE": "sqlite:///"}, "ORCHESTROUTER_STORE: store URL must be"),
        ({"ORCHESTROUTER_STORE_RETENTION_DAYS": "-1"}, "ORCHESTROUTER_STORE_RETENTION_DAYS must be a number of days"),
        ({"ORCHESTROUTER_STORE_RETENTION_DAYS": "soon"}, "ORCHESTROUTER_STORE_RETENTION_DAYS must be a number"),
    ],
)
def test_store_config_errors_are_one_line_without_the_password(env, fragment):
    with pytest.raises(ConfigError, match=fragment) as refused:
        RouterConfig.from_env(env)
    assert PASSWORD not in str(refused.value) and "\n" not in str(refused.value)


def test_a_store_that_cannot_be_opened_stops_startup_in_one_line(loop_thread, random_model, postgres_server):
    url = postgres_server.url(password=PASSWORD)  # the server's password is another
    config = RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5, store=url)
    with pytest.raises(StartupError) as refused:
        loop_thread.run(start_pair(random_model, config))
    message = str(refused.value)
    assert message.startswith("ORCHESTROUTER_STORE: postgresql store postgresql://postgres:***@127.0.0.1:")
    assert PASSWORD not in message and "\n" not in message


def test_the_router_migrates_its_store_and_purges_past_retention(pair, random_model, store_url):
    seed = open_store(store_url)
    now = time.time()
    seed.record_requests([request("old", now - 31 * DAY_S), request("recent", now - 29 * DAY_S)])
    seed.close()
    pair(random_model, store=store_url, store_retention_days=30)
    assert wait_until(lambda: raw_rows(store_url, "SELECT request_id FROM requests") == [("recent",)])
    assert "old" not in str(raw_rows(store_url, "SELECT request_id, text FROM answers"))


def test_retention_zero_keeps_everything(pair, random_model, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed = open_store(url)
    seed.record_requests([request("ancient", 1.0)])
    seed.close()
    p = pair(random_model, store=url, store_retention_days=0)
    assert p.router.store is not None and p.router.store.url_for_display == url
    assert [r.request_id for r in p.router.store.requests()] == ["ancient"]


def test_a_failing_purge_is_logged_and_tried_again_without_stopping(store_url, caplog):
    caplog.set_level(logging.WARNING, logger="orchestrouter.router.retention")
    store = open_store(store_url)
    for table in ("answers", "judgments", "feedback", "requests"):
        raw_rows(store_url, f"DROP TABLE {table}")
    purger = RetentionPurger(store, retention_days=1, interval_s=0.01)
    try:
        assert wait_until(lambda: purger.runs >= 3)
        assert purger.purge_once() == -1
        assert purger.failures >= 4 and purger.running
    finally:
        purger.stop()
        store.close()
    assert not purger.running
    failures = [r.getMessage() for r in caplog.records if "retention purge failed" in r.getMessage()]
    assert len(failures) >= 3
    assert not [r for r in caplog.records if r.exc_info]  # one line each, no traceback


def test_a_purge_counts_what_it_deleted(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.record_requests([request(f"r{i}", 1_000.0 * i) for i in range(1, 6)])
    clock_now = 3_000.0 + 2 * DAY_S  # requests r1, r2 are older than 2 days at this instant
    purger = RetentionPurger(store, retention_days=2, interval_s=3600, clock=lambda: clock_now)
    try:
        assert wait_until(lambda: purger.runs >= 1)
        assert [r.request_id for r in store.requests()] == ["r3", "r4", "r5"]
        assert purger.purge_once() == 0
    finally:
        purger.stop()
        store.close()
