"""SIGTERM: the router stops taking new calls, finishes the ones in flight, and exits 0."""

from __future__ import annotations

import concurrent.futures
import signal

import grpc
import pytest

from orchestrouter.client import RouterClient
from orchestrouter.tools.launcher import start_pair
from tests.support.fake_openai import Fault


def test_sigterm_drains_in_flight_requests(fakes, premium_leaning_model):
    small, premium = fakes("small"), fakes("premium")
    # Every query scores 0.9: all go premium, whose first answer takes 1.5 s.
    premium.enqueue(Fault.slow_first_token(1.5))
    router_env = {
        "ORCHESTROUTER_SMALL_BASE_URL": small.base_url,
        "ORCHESTROUTER_PREMIUM_BASE_URL": premium.base_url,
        "ORCHESTROUTER_GRACE_SECONDS": "20",
        "ORCHESTROUTER_DECISION_LOG": "off",
    }
    with start_pair({"ORCHESTROUTER_SCORER_MODEL": str(premium_leaning_model)}, router_env) as pair:
        router = pair.router
        with RouterClient(router.target, timeout_s=30) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(client.route, "Prove Fermat's little theorem.")
            premium.wait_for_requests(1)
            router.process.send_signal(signal.SIGTERM)
            answer = in_flight.result(timeout=30)
            assert answer.tier == "premium" and answer.answer == premium.answer_text()
            assert router.process.wait(30) == 0
            with pytest.raises(grpc.RpcError) as err:
                client.route("anyone there?", dry_run=True)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert small.requests == []
