"""Answered requests log nothing at INFO or above (issue 14): a line per request costs the event loop
and floods the log at a router's rate. Failures still warn (tests/test_dispatch_faults.py)."""

from __future__ import annotations

import logging

from orchestrouter.runtime.serving import configure_logging
from tests.support.dispatch_stack import with_dispatch


def test_answered_requests_log_no_line_at_info(stack, caplog):
    s = stack(dispatch=with_dispatch(0))
    s.route()  # connections, the model's first use: once per process, not per request
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            assert s.route().decision.attempts == 1
            assert [e.WhichOneof("event") for e in s.route_stream()][-1] == "done"
    assert len(s.premium.requests) + len(s.small.requests) == 11, "the requests reached the endpoints"
    loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert not loud, loud


def test_the_process_logging_quiets_httpx_per_request_lines():
    loggers = [logging.getLogger(name) for name in ("httpx", "httpx2")]
    before = [logger.level for logger in loggers]
    try:
        configure_logging()
        assert all(not logger.isEnabledFor(logging.INFO) for logger in loggers)
        assert all(logger.isEnabledFor(logging.WARNING) for logger in loggers)
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)
