"""The front door under attack: what a hostile or broken HTTP client can do to the router and its log."""

from __future__ import annotations

import logging
import socket
import time

import httpx

from tests.support.dispatch_stack import with_dispatch
from tests.support.frontdoor import HTTP_LISTEN, base_url, sdk_client
from tests.support.pair import QUESTION


def _connect(url: str, timeout_s: float) -> socket.socket:
    parsed = httpx.URL(url)
    assert parsed.host and parsed.port
    return socket.create_connection((parsed.host, parsed.port), timeout=timeout_s)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket's timeout)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    return received


def test_a_body_that_never_completes_is_answered_408_within_the_deadline(stack):
    door = stack(http_listen=HTTP_LISTEN, dispatch=with_dispatch(default_deadline_s=1.0))
    with _connect(base_url(door.router), timeout_s=30) as sock:
        # Announces 100 bytes, sends 2 and then nothing: a slowloris body.
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
        started = time.monotonic()
        answer = _answer(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code": "request_timeout"' in answer
    assert waited < 20, f"the connection was held {waited:.1f} s"
    assert door.small.calls == door.premium.calls == 0
    assert sdk_client(door.router).chat.completions.create(
        model="orchestrouter-auto", messages=[{"role": "user", "content": QUESTION}]
    ).choices


def test_malformed_http_is_one_throttled_warning_never_a_traceback(stack, caplog):
    door = stack(http_listen=HTTP_LISTEN)
    garbage = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x00zz\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100_000 + b"\r\n\r\n",
    )
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            for request in garbage:
                with _connect(base_url(door.router), timeout_s=10) as sock:
                    sock.sendall(request)
                    assert _answer(sock).startswith(b"HTTP/1.0 400"), request[:60]
    assert [r.getMessage() for r in caplog.records if r.exc_info and r.levelno >= logging.INFO] == []
    # Throttled process-wide: at most one line per interval, however many were refused.
    warnings = [r.getMessage() for r in caplog.records if "malformed HTTP" in r.getMessage()]
    assert len(warnings) <= 1, warnings
