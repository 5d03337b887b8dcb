"""Router process: create_server(config) -> RouterServer, serve(config), main()."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
from grpc import aio

from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.router.core import RouterCore
from orchestrouter.router.decision_log import DecisionLog
from orchestrouter.router.dispatch.dispatcher import Dispatcher
from orchestrouter.router.embedders import Embedder, OpenAIEmbedder, WordLlamaEmbedder
from orchestrouter.router.route_observer import RouteObserver
from orchestrouter.router.scorer_client import CoalescingScorer, ScorerClient
from orchestrouter.router.servicer import RouterServicer
from orchestrouter.runtime import serving
from orchestrouter.v1 import router_pb2, router_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name


class StartupError(RuntimeError):
    """The router cannot serve with this configuration; the message says why."""


def build_embedder(config: RouterConfig) -> Embedder:
    e = config.embedder
    if e.kind == "openai":
        return OpenAIEmbedder(e.base_url, e.model, e.dim, e.api_key)
    return WordLlamaEmbedder()


def open_decision_log(config: RouterConfig) -> DecisionLog:
    # The keys are handed over only to be masked, should one ever reach a line.
    keys = (config.small.api_key, config.premium.api_key, config.embedder.api_key)
    try:
        return DecisionLog.open(config.decision_log, config.log_prompts, keys)
    except OSError as exc:
        raise StartupError(f"ORCHESTROUTER_DECISION_LOG: cannot open {config.decision_log} ({exc.strerror})") from exc


@dataclass
class RouterServer:
    """RouterServer: the bound gRPC server and the core it serves."""

    server: aio.Server
    port: int
    config: RouterConfig
    core: RouterCore
    health: serving.Health

    async def connect_scorer(self, timeout_s: float = 30.0) -> None:
        """Reads the scorer's model info, checks the embedder matches, then reports SERVING."""
        info = await self._wait_for_model_info(timeout_s)
        embedder = self.core.embedder
        if info.embedder.name != embedder.name or info.embedder.dim != embedder.dim:
            raise StartupError(
                f"router model {info.router_id} {info.router_version} expects embedder "
                f"{info.embedder.name!r} ({info.embedder.dim}-d) but the router embeds with "
                f"{embedder.name!r} ({embedder.dim}-d)"
            )
        self.core.use_model(info.router_id, info.router_version, info.calibration_quantiles)
        await self.health.set(serving.SERVING)
        log.info(
            "router ready: model %s %s, threshold %.4f",
            info.router_id,
            info.router_version,
            self.core.policy.default_threshold,
        )

    async def _wait_for_model_info(self, timeout_s: float):
        # In a pod the scorer sidecar may still be loading its model: it answers UNAVAILABLE.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        delay = 0.05
        while True:
            try:
                return await self.core.scorer.model_info(timeout_s=max(0.1, deadline - loop.time()))
            except aio.AioRpcError as exc:
                if (
                    exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                    or loop.time() + delay >= deadline
                ):
                    raise StartupError(
                        f"scorer at {self.config.scorer_target} not ready after "
                        f"{timeout_s:.0f}s: {exc.code().name} {exc.details()}"
                    ) from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def stop(self, grace_seconds: float | None = None) -> None:
        grace = self.config.grace_seconds if grace_seconds is None else grace_seconds
        await serving.drain(self.server, self.health, grace)
        await self.core.dispatcher.close()
        await self.core.scorer.close()
        self.core.observer.decision_log.close()


async def create_server(config: RouterConfig, embedder: Embedder | None = None) -> RouterServer:
    """Builds and binds the server, health NOT_SERVING; call start() then connect_scorer()."""
    embedder = embedder or build_embedder(config)
    scorer = CoalescingScorer(ScorerClient(config.scorer_target, config.scorer_timeout_ms / 1000.0))
    dispatcher = Dispatcher.from_config(config)
    # The premium-share dial needs the model's calibration table: it is set in connect_scorer().
    core = RouterCore(
        embedder,
        scorer,
        dispatcher,
        config.threshold,
        config.premium_share,
        config.degraded_tier,
        RouteObserver(open_decision_log(config)),
    )
    server = serving.new_server()
    router_pb2_grpc.add_RouterServiceServicer_to_server(RouterServicer(core, config), server)
    health = serving.Health([SERVICE_NAME])
    await health.set(serving.NOT_SERVING)
    serving.add_health_and_reflection(server, health, [SERVICE_NAME], config.reflection)
    port = serving.bind(server, config.listen)
    return RouterServer(server, port, config, core, health)


async def serve(config: RouterConfig) -> None:
    router = await create_server(config)
    await router.server.start()
    log.info("router listening on %s (port %d)", config.listen, router.port)
    try:
        await router.connect_scorer()
    except BaseException:
        await router.stop(0)
        raise
    await serving.wait_for_termination_signal()
    await router.stop()


def main() -> None:
    serving.run_main("orchestrouter-router", lambda: serve(RouterConfig.from_env()), (ConfigError, StartupError))
