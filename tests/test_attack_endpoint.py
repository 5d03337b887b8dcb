"""A model endpoint that answers something no caller can be sent as text: the caller still gets its answer."""

from __future__ import annotations

import time

import grpc
import pytest

from orchestrouter.router.config import ShadowConfig
from orchestrouter.store import RequestRecord, open_store
from tests.support.fake_openai import Fault

# JSON can spell a lone UTF-16 surrogate (the fake's json.dumps writes "\ud800"); it is no text, and
# neither protobuf nor UTF-8 can carry it.
BROKEN = "bad \ud800 answer"
REPLACED = "bad \ufffd answer"


def broken(body: dict) -> str:
    return BROKEN


@pytest.fixture
def broken_stack(stack, tmp_path):
    url = f"sqlite:///{tmp_path / 'traffic.db'}"
    s = stack(fake_small={"reply": broken}, fake_premium={"reply": broken}, shadow=ShadowConfig(rate=1.0), store=url)
    return s, url


def test_a_lone_surrogate_in_an_answer_is_replaced_not_an_internal_error(broken_stack):
    s, url = broken_stack
    assert s.route().answer == REPLACED
    streamed = list(s.route_stream())
    assert "".join(r.delta for r in streamed if r.WhichOneof("event") == "delta") == REPLACED
    # Both answers of the unary request (served and shadow) reach the store.
    store = open_store(url)
    try:
        deadline = time.monotonic() + 20
        records: list[RequestRecord] = []
        while time.monotonic() < deadline and len(records) < 2:
            records = list(store.requests())
            time.sleep(0.1)
        assert len(records) == 2
        assert {a.text for r in records for a in r.answers} == {REPLACED}
    finally:
        store.close()


def test_a_lone_surrogate_in_an_endpoints_error_message_reaches_the_caller_at_once(stack):
    """gRPC cannot encode a lone surrogate in a status message: the call hung to its deadline."""
    s = stack()
    s.premium.always(Fault.status_code(400, message="cannot read \ud800 here"))
    with pytest.raises(grpc.RpcError) as err:
        s.route(timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot read ? here" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        list(s.route_stream(timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
