"""HTTPS to the endpoints with a CA made in the test, the bearer token, its rotation, and logs free of it."""

from __future__ import annotations

import io
import logging
import ssl

import grpc
import pytest
import trustme

from orchestrouter.v1 import router_pb2
from tests.support.dispatch_stack import KEYS, with_dispatch
from tests.support.doubles import replace_file
from tests.support.fake_openai import Fault

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture
def ca_bundle(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def router_log():
    """The router's log output in the process's format (serving.configure_logging), at DEBUG, every logger."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_https_with_a_test_ca_carries_the_token_and_no_log_line_shows_it(stack, ca, ca_bundle, router_log, caplog):
    caplog.set_level(logging.DEBUG)
    tls = {"ssl_context": server_context(ca)}
    s = stack(small={"ca_bundle": ca_bundle}, premium={"ca_bundle": ca_bundle}, fake_small=tls, fake_premium=tls)
    assert s.premium.base_url.startswith("https://") and s.small.base_url.startswith("https://")

    assert s.route().decision.tier == PREMIUM
    s.premium.enqueue(Fault.status_code(500))
    assert s.route().decision.attempts == 2
    s.premium.enqueue(Fault.status_code(401))
    assert s.route().decision.fell_back
    assert [e.WhichOneof("event") for e in s.route_stream()][-1] == "done"
    s.premium.enqueue(Fault.reset(after_deltas=2))
    with pytest.raises(grpc.RpcError):
        list(s.route_stream())

    assert {r.headers["authorization"] for r in s.premium.requests} == {f"Bearer {KEYS['premium']}"}
    assert {r.headers["authorization"] for r in s.small.requests} == {f"Bearer {KEYS['small']}"}
    # Formatted lines, and each record's raw arguments and traceback in case a handler prints those.
    logged = "\n".join(
        [router_log.getvalue(), caplog.text, *(f"{r.args!r} {r.exc_text or ''}" for r in caplog.records)]
    )
    # The capture works: the dispatch warnings are in it ...
    assert "falling back to small" in logged and "the answer is incomplete" in logged
    # ... and neither key is.
    for key in KEYS.values():
        assert key not in logged
        assert key[-8:] not in logged


def test_an_untrusted_certificate_is_a_connection_failure(stack, ca, ca_bundle, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    tls = {"ssl_context": server_context(ca)}
    s = stack(fallback="none", dispatch=with_dispatch(0), premium={"ca_bundle": str(other)}, fake_premium=tls)
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "premium endpoint unreachable (its TLS certificate is not trusted)" in (err.value.details() or "")
    assert not s.premium.requests, "no request may be sent over an untrusted connection"


def rotate(path, key: str) -> None:
    """Swaps the key file as a Kubernetes Secret update does."""
    replace_file(path, key + "\n")


def test_a_rotated_key_file_is_picked_up_without_a_restart(stack, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "premium-key"
    key_file.write_text("sk-old-1111\n")
    s = stack(
        premium={"api_key": "sk-old-1111", "api_key_file": str(key_file)},
        fake_premium={"accepted_keys": ("sk-old-1111",)},
    )
    assert s.route().decision.tier == PREMIUM
    rotate(key_file, "sk-new-2222")
    s.premium.accepted_keys = ("sk-new-2222",)
    # The periodic re-check (1 s) has not run yet: the old key is refused, the file re-read at
    # once, and the call repeated with the new key; no fallback.
    d = s.route().decision
    assert (d.tier, d.fell_back, d.attempts) == (PREMIUM, False, 2)
    assert [r.headers["authorization"] for r in s.premium.requests] == [
        "Bearer sk-old-1111",
        "Bearer sk-old-1111",
        "Bearer sk-new-2222",
    ]
    assert "ORCHESTROUTER_PREMIUM_API_KEY_FILE" in caplog.text and "sk-new-2222" not in caplog.text


def test_a_refused_key_that_did_not_change_is_not_retried(stack):
    s = stack(fallback="none", fake_premium={"accepted_keys": ("sk-something-else",)})
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(s.premium.requests) == 1
