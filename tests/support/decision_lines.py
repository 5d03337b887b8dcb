"""decision_lines: read a router's decision-log file once its writer thread has written what is queued."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrouter.router.server import RouterServer


def written_text(router: RouterServer, path: Path) -> str:
    """The file's text after the router's decision log has written every line queued so far."""
    assert router.core.observer.decision_log.flush(timeout_s=10), "the decision-log writer did not catch up"
    return path.read_text()


def written_lines(router: RouterServer, path: Path) -> list[dict]:
    return [json.loads(line) for line in written_text(router, path).splitlines()]
