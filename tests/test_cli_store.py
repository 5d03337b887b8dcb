"""`orchestrouter store purge` and `store migrate` (in process), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from orchestrouter.cli.main import main
from orchestrouter.store import open_store
from orchestrouter.store.schema import LATEST_VERSION
from tests.support.postgres import PASSWORD
from tests.support.store_records import raw_rows, request, stored_text

DAY_S = 86_400.0


@pytest.fixture
def seeded(store_url):
    """Four requests: two of alice's, two of bob's; one of each 40 days old."""
    store = open_store(store_url)
    now = time.time()
    store.record_requests(
        [
            request("a-old", now - 40 * DAY_S, caller="alice", prompt="alice old prompt"),
            request("a-new", now - 1 * DAY_S, caller="alice", prompt="alice new prompt"),
            request("b-old", now - 40 * DAY_S, caller="bob", prompt="bob old prompt"),
            request("b-new", now - 1 * DAY_S, caller="bob", prompt="bob new prompt"),
        ]
    )
    store.close()
    return store_url


def stored_ids(url: str) -> set[str]:
    return {row[0] for row in raw_rows(url, "SELECT request_id FROM requests")}


@pytest.mark.parametrize(
    "options, left",
    [
        (["--older-than-days", "30"], {"a-new", "b-new"}),
        (["--request-id", "a-new", "--request-id", "b-old"], {"a-old", "b-new"}),
        (["--caller", "bob"], {"a-old", "a-new"}),
        (["--caller", "alice", "--older-than-days", "30"], {"a-new", "b-old", "b-new"}),
    ],
)
def test_purge_deletes_the_matching_requests_and_says_how_many(seeded, options, left, capsys):
    assert main(["store", "purge", "--store", seeded, *options]) == 0
    out = capsys.readouterr().out
    purged = 4 - len(left)
    assert out.startswith(f"purged {purged} requests from ")
    assert PASSWORD not in out
    assert stored_ids(seeded) == left
    text = stored_text(seeded)
    for gone in {"a-old", "a-new", "b-old", "b-new"} - left:
        owner, age = gone.split("-")
        assert f"{'alice' if owner == 'a' else 'bob'} {age} prompt" not in text


def test_purge_takes_the_store_from_the_environment(seeded, monkeypatch, capsys):
    monkeypatch.setenv("ORCHESTROUTER_STORE", seeded)
    assert main(["store", "purge", "--caller", "alice"]) == 0
    assert capsys.readouterr().out.startswith("purged 2 requests")


def test_purge_without_a_criterion_is_a_usage_error(seeded, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["store", "purge", "--store", seeded])
    assert exit_.value.code == 2
    assert "at least one of --older-than-days, --request-id, --caller" in capsys.readouterr().err
    assert len(stored_ids(seeded)) == 4


def test_migrate_applies_the_schema_once(store_url, capsys):
    assert main(["store", "migrate", "--store", store_url]) == 0
    assert f"schema versions applied: {LATEST_VERSION}" in capsys.readouterr().out
    assert main(["store", "migrate", "--store", store_url]) == 0
    out = capsys.readouterr().out
    assert "schema versions applied: none, already current" in out and PASSWORD not in out


def test_an_unreachable_store_is_one_line_without_the_password(tmp_path, capsys):
    url = f"postgresql://router:{PASSWORD}@127.0.0.1:1/traffic"
    assert main(["store", "migrate", "--store", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: postgresql store postgresql://router:***@127.0.0.1:1/traffic")
    assert PASSWORD not in err and err.count("\n") == 1
    assert main(["store", "purge", "--store", "ftp://x", "--caller", "c"]) == 1
    assert "store URL must be" in capsys.readouterr().err
