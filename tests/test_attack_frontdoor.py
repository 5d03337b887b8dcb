"""The front door under attack: what a hostile or broken HTTP client can do to the router and its log."""

from __future__ import annotations

import json
import logging
import socket
import time

import httpx

from orchestrouter.router.config import ShadowConfig
from orchestrouter.store import open_store
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
    assert (
        sdk_client(door.router)
        .chat.completions.create(model="orchestrouter-auto", messages=[{"role": "user", "content": QUESTION}])
        .choices
    )


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


def test_a_lone_surrogate_is_refused_like_invalid_utf8_and_never_costs_others_their_records(stack, tmp_path):
    """JSON may spell a lone UTF-16 surrogate (\\ud800), which is no text: gRPC refuses it as invalid
    UTF-8; over HTTP it reached the endpoints and then broke the decision log and the store's batch."""
    url = f"sqlite:///{tmp_path / 'traffic.db'}"
    door = stack(http_listen=HTTP_LISTEN, shadow=ShadowConfig(rate=1.0), store=url)
    with httpx.Client(base_url=base_url(door.router), timeout=20) as http:
        for body in (
            b'{"messages":[{"role":"user","content":"hi \\ud800 there"}]}',
            b'{"messages":[{"role":"user","content":[{"type":"text","text":"\\udfff"}]}]}',
            b'{"messages":[{"role":"user","content":"hi"}],"user":"\\ud83d"}',
        ):
            refused = http.post("/chat/completions", content=body, headers={"content-type": "application/json"})
            assert refused.status_code == 400, refused.text
            assert "surrogate" in refused.json()["error"]["message"]
        # A real pair (an emoji's two escapes) is text and is answered.
        emoji = b'{"messages":[{"role":"user","content":"hi \\ud83d\\ude00"}]}'
        answered = http.post("/chat/completions", content=emoji, headers={"content-type": "application/json"})
        assert answered.status_code == 200, answered.text
        request_id = answered.headers["x-orchestrouter-request-id"]
    door.small.wait_for_requests(1)  # the shadow call, in the background
    assert door.small.calls + door.premium.calls == 2  # the answer and its shadow, nothing refused
    store = open_store(url)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list(store.requests()):
            time.sleep(0.1)
        (record,) = list(store.requests())
        assert record.request_id == request_id and "\U0001f600" in json.loads(record.messages_json)[0]["content"]
    finally:
        store.close()
