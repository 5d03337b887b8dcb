"""Fixtures for dispatch tests: fake endpoints, and a real router + scorer pointed at them.

Import the fixtures into a test module (`from tests.support.dispatch_stack import fakes, stack`).
The router model gives every query the same win probability (0.9), so the default threshold
routes to premium and a request threshold above 0.9 routes to small.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest

from orchestrouter.router.config import DispatchConfig, RouterConfig, TierConfig
from orchestrouter.router.dispatch.retry import RetryPolicy
from orchestrouter.router.server import RouterServer, create_server
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.fake_openai import FakeOpenAI
from tests.support.models import ConstantEmbedder, linear_model

WIN_PROBABILITY = 0.9
KEYS = {"small": "sk-small-7f3a9c1e5b2d4680", "premium": "sk-premium-0d8e6b4a2c9f1357"}
PRICES = {"small": (0.10, 0.40), "premium": (2.00, 8.00)}
# Short backoff so retry tests take milliseconds.
FAST_DISPATCH = DispatchConfig(retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05))


def tier_config(tier: str, fake: FakeOpenAI | None, **overrides: Any) -> TierConfig:
    price_in, price_out = PRICES[tier]
    fields: dict[str, Any] = dict(
        base_url=fake.base_url if fake else "",
        model=f"{tier}-model",
        api_key=KEYS[tier],
        connect_timeout_s=2.0,
        first_token_timeout_s=5.0,
        total_timeout_s=10.0,
        price_input_per_mtok=price_in,
        price_output_per_mtok=price_out,
    )
    fields.update(overrides)
    return TierConfig(tier, **fields)


@pytest.fixture
def fakes(loop_thread):
    """fakes(name, **fields) starts a FakeOpenAI on the test loop; all are stopped after the test."""
    started: list[FakeOpenAI] = []

    def start(name: str, **fields: Any) -> FakeOpenAI:
        fake = loop_thread.run(FakeOpenAI(name, **fields).start())
        started.append(fake)
        return fake

    yield start
    for fake in started:
        loop_thread.run(fake.stop())


@pytest.fixture(scope="session")
def premium_leaning_model(tmp_path_factory):
    """Every query scores WIN_PROBABILITY."""
    p = WIN_PROBABILITY
    return linear_model(tmp_path_factory.mktemp("dispatch-models") / "p90.onnx", bias=float(np.log(p / (1 - p))))


@dataclass
class Stack:
    """Stack: a router (and its scorer) in process, the two fake endpoints, and a channel to the router."""

    router: RouterServer
    small: FakeOpenAI
    premium: FakeOpenAI
    channel: grpc.Channel

    @property
    def stub(self) -> router_pb2_grpc.RouterServiceStub:
        return router_pb2_grpc.RouterServiceStub(self.channel)

    def route(self, text: str = "What is six times seven?", timeout: float = 10.0, **fields: Any):
        return self.stub.Route(request(text, **fields), timeout=timeout)

    def route_stream(self, text: str = "What is six times seven?", timeout: float = 10.0, **fields: Any):
        return self.stub.RouteStream(request(text, **fields), timeout=timeout)

    def status(self) -> router_pb2.GetStatusResponse:
        return self.stub.GetStatus(router_pb2.GetStatusRequest(), timeout=5)

    def endpoint(self, tier: str) -> router_pb2.EndpointStatus:
        wanted = {"small": router_pb2.TIER_SMALL, "premium": router_pb2.TIER_PREMIUM}[tier]
        return next(e for e in self.status().endpoints if e.tier == wanted)


def request(text: str, **fields: Any) -> router_pb2.RouteRequest:
    params = fields.pop("params", None)
    req = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)], **fields)
    if params is not None:
        req.params.CopyFrom(params)
    return req


@pytest.fixture
def stack(loop_thread, scorer_factory, fakes, premium_leaning_model):
    """stack(small={...}, premium={...}, **router_fields): both fakes, a scorer and a router, all on port 0.

    small/premium override that tier's TierConfig fields; fake_small/fake_premium pass FakeOpenAI fields.
    """
    routers: list[tuple[RouterServer, grpc.Channel]] = []

    def start(
        small: dict | None = None,
        premium: dict | None = None,
        fake_small: dict | None = None,
        fake_premium: dict | None = None,
        **router_fields: Any,
    ) -> Stack:
        small_fake = fakes("small", **(fake_small or {}))
        premium_fake = fakes("premium", **(fake_premium or {}))
        scorer = scorer_factory(premium_leaning_model)
        router_fields.setdefault("dispatch", FAST_DISPATCH)
        config = RouterConfig(
            listen="127.0.0.1:0",
            scorer_target=f"127.0.0.1:{scorer.port}",
            grace_seconds=0.5,
            small=tier_config("small", small_fake, **(small or {})),
            premium=tier_config("premium", premium_fake, **(premium or {})),
            **router_fields,
        )

        async def boot() -> RouterServer:
            r = await create_server(config, embedder=ConstantEmbedder())
            await r.server.start()
            await r.connect_scorer(timeout_s=5)
            return r

        router = loop_thread.run(boot())
        channel = grpc.insecure_channel(f"127.0.0.1:{router.port}")
        routers.append((router, channel))
        return Stack(router, small_fake, premium_fake, channel)

    yield start
    for router, channel in routers:
        channel.close()
        loop_thread.run(router.stop(0.5))


def with_dispatch(max_retries: int = FAST_DISPATCH.retry.max_retries, **changes: Any) -> DispatchConfig:
    """FAST_DISPATCH with max_retries and some other DispatchConfig fields (breaker=...) changed."""
    retry = dataclasses.replace(FAST_DISPATCH.retry, max_retries=max_retries)
    return dataclasses.replace(FAST_DISPATCH, retry=retry, **changes)
