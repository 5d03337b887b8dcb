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
