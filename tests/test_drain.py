"""SIGTERM: the router stops taking new calls, finishes the ones in flight, and exits 0."""

from __future__ import annotations

import concurrent.futures
import signal
import time

import grpc
import pytest

from orchestrouter.client import RouterClient
from orchestrouter.tools.launcher import start_pair
from tests.support.fake_openai import Fault
from tests.support.models import linear_model


def wait_until(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_sigterm_drains_in_flight_requests(fakes, tmp_path):
    small, premium = fakes("small"), fakes("premium")
    # Every query scores 0.9: all go premium, whose first answer takes 1.5 s.
    premium.enqueue(Fault.slow_first_token(1.5))
    model = linear_model(tmp_path / "p90.onnx", bias=2.1972246)
    router_env = {
        "ORCHESTROUTER_SMALL_BASE_URL": small.base_url,
        "ORCHESTROUTER_PREMIUM_BASE_URL": premium.base_url,
        "ORCHESTROUTER_GRACE_SECONDS": "20",
        "ORCHESTROUTER_DECISION_LOG": "off",
    }
    with start_pair({"ORCHESTROUTER_SCORER_MODEL": str(model)}, router_env) as pair:
        router = pair.router
        with RouterClient(router.target, timeout_s=30) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(client.route, "Prove Fermat's little theorem.")
            wait_until(lambda: len(premium.requests) == 1)
            router.process.send_signal(signal.SIGTERM)
            answer = in_flight.result(timeout=30)
            assert answer.tier == "premium" and answer.answer == premium.answer_text()
            assert router.process.wait(30) == 0
            with pytest.raises(grpc.RpcError) as err:
                client.route("anyone there?", dry_run=True)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert small.requests == []
