"""`orchestrouter tune`: the threshold for a premium share or a cost ceiling from stored traffic, its expected
cost and quality, and --write into a router env file the router then reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from orchestrouter.router.config import RouterConfig
from orchestrouter.store import Judgment, open_store
from tests.support.store_pairs import PREMIUM_COST, SMALL_COST, pair_record

N = 200


@pytest.fixture
def traffic_url(store_url) -> str:
    """A store (SQLite, then PostgreSQL) with N requests, win probabilities spread over [0, 1); premium is
    better exactly where p >= 0.8."""
    url = store_url
    store = open_store(url)
    now = time.time()
    records = [pair_record(f"r{i}", f"question {i}", "s", "p", win_probability=i / N) for i in range(N)]
    # Old traffic, outside --since-days: all of it would go premium.
    records += [
        pair_record(f"old{i}", f"old {i}", "s", "p", win_probability=0.99, created_at=now - 30 * 86400)
        for i in range(N)
    ]
    store.record_requests(records)
    for i in range(N):
        winner = "premium" if i / N >= 0.8 else "tie"
        store.record_judgment(Judgment(f"r{i}", "judge", winner, ("B", "A"), 0.0, now))
    store.close()
    return url


def tune(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "orchestrouter.cli", "tune", "--store", url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_premium_share_becomes_the_quantile_threshold_with_cost_and_quality(traffic_url):
    done = tune(traffic_url, "--premium-share", "0.2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["requests"] == N and result["judged_pairs"] == N
    assert result["threshold"] == pytest.approx(0.8, abs=0.01)
    assert result["premium_share"] == pytest.approx(0.2, abs=0.01)
    share = result["premium_share"]
    # Every answer costs its tier's price: served and shadow answers alike.
    assert result["cost_per_1k"] == pytest.approx(1000 * (share * PREMIUM_COST + (1 - share) * SMALL_COST))
    assert result["pgr"] == pytest.approx(1.0)


def test_a_cost_ceiling_becomes_the_largest_share_under_it(traffic_url):
    ceiling = 1000 * (0.1 * PREMIUM_COST + 0.9 * SMALL_COST)
    done = tune(traffic_url, "--max-cost-per-1k", f"{ceiling}", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["premium_share"] == pytest.approx(0.1, abs=0.01) and result["cost_per_1k"] <= ceiling * 1.01
    # Half the premium-better pairs reach the premium tier.
    assert result["pgr"] == pytest.approx(0.5, abs=0.05)


def test_write_sets_the_threshold_the_router_reads(traffic_url, tmp_path):
    env_file = tmp_path / "router.env"
    env_file.write_text("# endpoints\nORCHESTROUTER_SMALL_MODEL=small\nORCHESTROUTER_THRESHOLD=0.2\n")
    done = tune(traffic_url, "--premium-share", "0.3", "--write", str(env_file))
    assert done.returncode == 0, done.stderr
    assert "premium share 30.0%" in done.stdout and f"to {env_file}" in done.stdout
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#"))
    assert env["ORCHESTROUTER_SMALL_MODEL"] == "small"
    config = RouterConfig.read_env(env)
    assert config.threshold == pytest.approx(0.7, abs=0.01) and config.premium_share is None
    # Tuning again replaces the setting, not adds another.
    assert tune(traffic_url, "--premium-share", "0.5", "--write", str(env_file)).returncode == 0
    assert env_file.read_text().count("ORCHESTROUTER_THRESHOLD=") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--premium-share", "1.5"), "--premium-share must be in [0, 1]"),
        (("--premium-share", "0.2", "--since-days", "0"), "--since-days must be > 0"),
        (("--max-cost-per-1k", "-1"), "--max-cost-per-1k must be >= 0"),
    ],
)
def test_bad_input_is_one_line(traffic_url, args, message):
    done = tune(traffic_url, *args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def test_an_empty_store_is_one_line(tmp_path):
    done = tune(f"sqlite:///{tmp_path / 'empty.db'}", "--premium-share", "0.2")
    assert done.returncode == 2 and "no requests from the last 7 days" in done.stderr


def test_both_targets_at_once_are_refused(traffic_url):
    done = tune(traffic_url, "--premium-share", "0.2", "--max-cost-per-1k", "1")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_a_share_the_stored_probabilities_cannot_reach_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'tied.db'}"
    store = open_store(url)
    store.record_requests([pair_record(f"r{i}", f"q{i}", "s", "p", win_probability=0.5) for i in range(20)])
    store.close()
    done = tune(url, "--premium-share", "0.2")
    assert done.returncode == 0, done.stderr
    assert "premium share 100.0%" in done.stdout and "too few or too tied to reach 20.0%" in done.stdout


def test_the_store_url_comes_from_the_environment_too(traffic_url):
    command = [sys.executable, "-m", "orchestrouter.cli", "tune", "--premium-share", "0.2"]
    env = {**os.environ, "ORCHESTROUTER_STORE": traffic_url}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and f"from {N} stored requests" in done.stdout, done.stderr
