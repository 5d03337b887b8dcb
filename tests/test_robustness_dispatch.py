"""Dispatch robustness (issue 10): a request the endpoint rejects is not sent to the other tier
(defect 10b), and whatever the HTTP stack raises becomes an upstream failure that falls back,
never INTERNAL (defect 3).

The router model sends every request to premium, so faults are injected on the premium fake.
"""

from __future__ import annotations

import grpc
import pytest

from orchestrouter.v1 import router_pb2
from tests.support.dispatch_stack import with_dispatch
from tests.support.fake_openai import Fault

PREMIUM, SMALL = router_pb2.TIER_PREMIUM, router_pb2.TIER_SMALL


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_rejected_request_is_not_sent_to_the_other_tier(stack, status):
    s = stack()
    s.premium.enqueue(Fault.status_code(status))
    with pytest.raises(grpc.RpcError) as err:
        s.route()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"premium endpoint refused the request ({status})" in (err.value.details() or "")
    assert len(s.premium.requests) == 1 and not s.small.requests


@pytest.mark.parametrize("status", [401, 403, 429, 503])
def test_credentials_rate_limits_and_server_errors_still_fall_back(stack, status):
    s = stack(dispatch=with_dispatch(max_retries=0))
    s.premium.enqueue(Fault.status_code(status))
    d = s.route().decision
    assert (d.tier, d.fell_back) == (SMALL, True)


# --- defect 3: whatever the HTTP stack raises falls back --------------------------------------------

# A 200 that says its body is gzip when it is not: httpx.DecodingError while reading it.
BAD_GZIP = Fault("status", status=200, headers=(("Content-Encoding", "gzip"),))


def test_an_undecodable_answer_falls_back(stack):
    s = stack(dispatch=with_dispatch(max_retries=0))
    s.premium.enqueue(BAD_GZIP)
    d = s.route().decision
    assert (d.tier, d.fell_back) == (SMALL, True) and "premium" in d.fallback_reason


def test_an_undecodable_streamed_answer_falls_back(stack):
    s = stack(dispatch=with_dispatch(max_retries=0))
    s.premium.enqueue(BAD_GZIP)
    replies = list(s.route_stream())
    assert replies[0].decision.tier == SMALL and replies[0].decision.fell_back


def test_a_key_file_rotated_to_a_non_ascii_key_is_a_tier_failure_that_falls_back(stack, tmp_path):
    key = tmp_path / "key"
    key.write_text("sk-ascii-key-1234")
    s = stack(premium={"api_key": "", "api_key_file": str(key)}, dispatch=with_dispatch(api_key_recheck_s=0.0))
    assert s.route().decision.tier == PREMIUM
    key.write_text("sk-ключ-5678")
    d = s.route().decision
    assert (d.tier, d.fell_back) == (SMALL, True)
    assert "ORCHESTROUTER_PREMIUM_API_KEY_FILE" in d.fallback_reason and "ключ" not in d.fallback_reason
    assert len(s.premium.requests) == 1


def test_a_key_file_rotated_to_invalid_utf8_or_empty_keeps_the_last_good_key(stack, tmp_path):
    key = tmp_path / "key"
    key.write_text("sk-ascii-key-1234")
    s = stack(premium={"api_key": "", "api_key_file": str(key)}, dispatch=with_dispatch(api_key_recheck_s=0.0))
    for content in (b"sk-\xff\xfe-broken", b"", b"\n"):
        key.write_bytes(content)
        d = s.route().decision
        assert (d.tier, d.fell_back) == (PREMIUM, False)
    assert {r.headers["authorization"] for r in s.premium.requests} == {"Bearer sk-ascii-key-1234"}
