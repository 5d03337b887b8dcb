"""Pair: a scorer and a router in the test process on port 0, the one way tests start them in process.

start_scorer() and start_pair() run on the loop_thread's loop (the `scorer_factory` and `pair`
fixtures do that and close what they started after the test); the processes' counterpart is
orchestrouter.tools.launcher.start_pair().
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from orchestrouter.router.config import RouterConfig
from orchestrouter.router.embedders import Embedder
from orchestrouter.router.server import RouterServer
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.server import ScorerServer
from orchestrouter.v1 import router_pb2, router_pb2_grpc
from tests.support.models import ConstantEmbedder

QUESTION = "What is six times seven?"


def request(text: str, **fields: Any) -> router_pb2.RouteRequest:
    """A RouteRequest with one user message; params (a GenerationParams) is copied in."""
    params = fields.pop("params", None)
    req = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)], **fields)
    if params is not None:
        req.params.CopyFrom(params)
    return req


@dataclass
class Pair:
    """Pair: a started scorer, a started router scoring with it, and a channel to the router."""

    scorer: ScorerServer
    router: RouterServer
    channel: grpc.Channel
    # The loop both serve on (the loop_thread's).
    loop: asyncio.AbstractEventLoop

    @property
    def stub(self) -> router_pb2_grpc.RouterServiceStub:
        return router_pb2_grpc.RouterServiceStub(self.channel)

    def route(self, text: str = QUESTION, timeout: float = 10.0, **fields: Any) -> router_pb2.RouteResponse:
        return self.stub.Route(request(text, **fields), timeout=timeout)

    def route_stream(self, text: str = QUESTION, timeout: float = 10.0, **fields: Any):
        return self.stub.RouteStream(request(text, **fields), timeout=timeout)

    def status(self) -> router_pb2.GetStatusResponse:
        return self.stub.GetStatus(router_pb2.GetStatusRequest(), timeout=5)

    def endpoint(self, tier: str) -> router_pb2.EndpointStatus:
        wanted = {"small": router_pb2.TIER_SMALL, "premium": router_pb2.TIER_PREMIUM}[tier]
        return next(e for e in self.status().endpoints if e.tier == wanted)

    async def close(self) -> None:
        self.channel.close()
        await self.router.close(0.5)
        await self.scorer.close(0.5)


async def start_scorer(model_path: Path, ready: bool = True, **overrides: Any) -> ScorerServer:
    """Starts a scorer serving model_path on port 0 (with ready=False: NOT_SERVING, model not loaded)."""
    config = ScorerConfig(listen="127.0.0.1:0", model_path=model_path, grace_seconds=1.0, **overrides)
    return await ScorerServer(config).start(ready=ready)


async def start_pair(
    model_path: Path,
    config: RouterConfig | None = None,
    embedder: Embedder | None = None,
    scorer_fields: dict[str, Any] | None = None,
) -> Pair:
    """Starts a scorer serving model_path (scorer_fields override its ScorerConfig), then a router
    (config, scorer target filled in; the ConstantEmbedder unless embedder is given) pointed at it;
    both SERVING, both on port 0."""
    scorer = await start_scorer(model_path, **(scorer_fields or {}))
    config = config or RouterConfig(listen="127.0.0.1:0", grace_seconds=0.5)
    router = RouterServer(
        dataclasses.replace(config, scorer_target=scorer.target),
        embedder=embedder or ConstantEmbedder(),
        scorer_wait_s=5.0,
    )
    try:
        await router.start()
    except BaseException:
        await scorer.close(0)
        raise
    return Pair(scorer, router, grpc.insecure_channel(router.target), asyncio.get_running_loop())
