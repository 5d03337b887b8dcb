"""decision_lines: read a router's decision-log lines once its writer thread has written what is queued:
from a file (a router in the test's process) or from a router process's stdout.

A router queues a request's line on its event loop's turn after the answer went out (router.route_observer),
so a caller holding its answer may be a turn ahead of the line: written_text lets the loop take that turn.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestrouter.tools.launcher import Service
from tests.support.pair import Pair
from tests.support.reload import wait_until


def flushed(pair: Pair) -> bool:
    """Lets the pair's loop take its turn (the lines of the requests answered so far are queued then),
    then waits for the decision log's writer; whether it caught up."""
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), pair.loop).result(10)
    return pair.router.core.observer.decision_log.flush(timeout_s=10)


def written_text(pair: Pair, path: Path) -> str:
    """The file's text once the pair's router has queued the lines of the requests answered so far
    and its decision log has written them."""
    assert flushed(pair), "the decision-log writer did not catch up"
    return path.read_text()


def written_lines(pair: Pair, path: Path) -> list[dict]:
    return [json.loads(line) for line in written_text(pair, path).splitlines()]


def logged_lines(router: Service, at_least: int = 1, timeout_s: float = 10.0) -> list[dict]:
    """The decision-log lines a router process has printed to stdout, once there are at_least of them
    (its writer lets lines gather for a few milliseconds before it writes them)."""

    def lines() -> list[dict]:
        return [json.loads(line) for line in list(router.log_lines) if line.startswith("{")]

    wait_until(lambda: len(lines()) >= at_least, f"{at_least} decision-log lines", timeout_s)
    return lines()
