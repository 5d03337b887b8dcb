"""Router process: RouterServer(config), started with one call, and main()."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Self

import grpc
from grpc import aio

from orchestrouter.router.caller_policy import POLICY_FILE_VARIABLE, CallerPolicy
from orchestrouter.router.config import ConfigError, RouterConfig
from orchestrouter.router.core import RouterCore
from orchestrouter.router.decision_log import DecisionLog
from orchestrouter.router.dispatch.dispatcher import Dispatcher
from orchestrouter.router.embedders import Embedder, OpenAIEmbedder, WordLlamaEmbedder
from orchestrouter.router.feedback import FeedbackDesk
from orchestrouter.router.http.app import FrontDoorApp
from orchestrouter.router.http.frontdoor import FrontDoor
from orchestrouter.router.http.models import ModelCatalog
from orchestrouter.router.model_refresh import ModelRefresh
from orchestrouter.router.retention import RetentionPurger
from orchestrouter.router.route_observer import RouteObserver
from orchestrouter.router.scorer_client import CoalescingScorer, Scorer, ScorerClient
from orchestrouter.router.servicer import RouterServicer
from orchestrouter.router.shadow import ShadowRouter
from orchestrouter.router.traffic import AnsweredTraffic
from orchestrouter.router.traffic_recorder import TrafficRecorder
from orchestrouter.router.workers import report_ready
from orchestrouter.runtime import redaction, serving
from orchestrouter.runtime.watched_file import FileFormatError, WatchedFile, describe
from orchestrouter.store import Store, StoreError, open_store
from orchestrouter.store.url import parse_store_url
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2

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


def open_caller_policy(config: RouterConfig) -> CallerPolicy:
    try:
        return CallerPolicy(config.caller_policy_file, config.auth_recheck_s)
    except (OSError, ValueError) as exc:
        raise StartupError(f"{POLICY_FILE_VARIABLE} {config.caller_policy_file}: {describe(exc)}") from None


def _one_token(text: str) -> str:
    token = text.strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        raise FileFormatError("must hold one token: printable characters without spaces")
    return token


def scorer_token(config: RouterConfig) -> Callable[[], str] | None:
    """The token the router presents to the scorer, re-read when its file changes; None without one."""
    if not config.scorer_token_file:
        return None
    try:
        source = WatchedFile(
            config.scorer_token_file, _one_token, "ORCHESTROUTER_SCORER_TOKEN_FILE", config.auth_recheck_s
        )
    except (OSError, ValueError) as exc:
        raise StartupError(f"ORCHESTROUTER_SCORER_TOKEN_FILE {config.scorer_token_file}: {describe(exc)}") from None
    return source.current


async def open_traffic_store(config: RouterConfig) -> Store | None:
    """The store ORCHESTROUTER_STORE names, opened and migrated on a worker thread; None when unset."""
    if not config.store:
        return None
    redaction.register_secrets(parse_store_url(config.store).password)
    try:
        store = await asyncio.to_thread(open_store, config.store)
    except StoreError as exc:  # its message holds no password
        raise StartupError(f"ORCHESTROUTER_STORE: {exc}") from None
    log.info("traffic store %s (retention %g days)", store.url_for_display, config.store_retention_days)
    return store


class RouterServer(serving.ServiceServer):
    """RouterServer: the Route service; ready once it has read the scorer's model info.

    ``await RouterServer(config).start()`` binds, connects to the scorer and reports SERVING;
    ``core`` is what it serves. embedder replaces the configured one (tests pass a stand-in), and
    scorer the Score RPC to ``scorer_target`` (orchestrouter.tools.inprocess passes a scorer in
    this process); scorer_wait_s bounds the wait for a scorer that is still loading its model. With
    ``http_listen`` set it also serves the OpenAI-compatible front door (``front_door``, router.http)
    over the same core; closing drains both at once. ``worker`` is set in the processes of a
    multi-worker router (router.workers), which tell their supervisor once they serve.
    """

    service_name = SERVICE_NAME
    role = "router"

    def __init__(
        self,
        config: RouterConfig,
        embedder: Embedder | None = None,
        scorer_wait_s: float = 30.0,
        worker: int | None = None,
        scorer: Scorer | None = None,
    ) -> None:
        super().__init__(config)
        self.config = config
        # The worker index when this is one of several router processes (router.workers), else None:
        # they share the ports, their decision-log lines name the worker, and worker 0 runs the singletons.
        self.worker = worker
        self.reuse_port = config.workers > 1
        self.scorer_wait_s = scorer_wait_s
        self._embedder = embedder
        self._scorer = scorer
        self._core: RouterCore | None = None
        # The traffic store (ORCHESTROUTER_STORE), opened by start(); None without one.
        self.store: Store | None = None
        self._retention: RetentionPurger | None = None

        self.front_door: FrontDoor | None = None
        self._front_door_closed: asyncio.Future[None] | None = None
        # The front door's /readyz: the scorer's model is read and the server is not draining.
        self._ready = False

    @property
    def core(self) -> RouterCore:
        if self._core is None:
            raise RuntimeError("the router is not started")
        return self._core

    def _register(self, server: aio.Server) -> None:
        config = self.config
        # Masked from now on wherever they could surface: replies, log lines, spans, the decision log.
        redaction.register_secrets(config.small.api_key, config.premium.api_key, config.embedder.api_key)
        # Opened first: a log that cannot be written stops startup before anything else is built.
        decision_log = open_decision_log(config)
        decision_log.worker = self.worker
        try:
            caller_policy = open_caller_policy(config)
            embedder = self._embedder or build_embedder(config)
            scorer = self._scorer or CoalescingScorer(
                ScorerClient(
                    config.scorer_target,
                    config.scorer_timeout_ms / 1000.0,
                    scorer_token(config),
                    tls=config.scorer_tls,
                ),
                linger_s=config.score_linger_ms / 1000.0,
            )
            dispatcher = Dispatcher.from_config(config)
        except BaseException:
            decision_log.close()
            raise
        # The premium-share dial needs the model's calibration table: it is set in _get_ready().
        self._core = RouterCore(
            embedder,
            scorer,
            dispatcher,
            config.threshold,
            config.premium_share,
            config.degraded_tier,
            RouteObserver(decision_log),
            caller_policy,
            self._traffic(dispatcher),
        )
        router_pb2_grpc.add_RouterServiceServicer_to_server(
            RouterServicer(self._core, config, FeedbackDesk(self.store, self._core.traffic.recorder)), server
        )
        if self.store is not None and config.store_retention_days > 0 and not self.worker:
            self._retention = RetentionPurger(self.store, config.store_retention_days)

    async def start(self, ready: bool = True) -> Self:
        """ServiceServer.start, with the HTTP front door bound before the server reports SERVING.

        The traffic store is opened first, so what _register builds can use it, and a store that
        cannot be opened stops startup with a one-line error.
        """
        if self.store is None:
            self.store = await open_traffic_store(self.config)
        await super().start(ready=False)
        try:
            await self._start_front_door()
            if ready:
                await self.become_ready()
                if self.worker is not None:
                    report_ready(self.port, self.front_door.port if self.front_door else 0, self.health_port)
        except BaseException:
            await self.close(0)
            raise
        return self

    async def _start_front_door(self) -> None:
        config = self.config
        if not config.http_listen:
            return
        dispatcher = self.core.dispatcher
        app = FrontDoorApp(
            self.core,
            self.auth,
            ModelCatalog.of_tiers(dispatcher.model_name("small"), dispatcher.model_name("premium")),
            config.max_prompt_chars,
            config.max_request_bytes,
            config.dispatch.default_deadline_s,
            ready=lambda: self._ready,
        )
        self.front_door = FrontDoor(app, config.http_listen, config.tls, config.grace_seconds, self.reuse_port)
        await self.front_door.start(self.auth is not None or config.tls.mutual, config.allow_unauthenticated)

    async def close(self, grace_seconds: float | None = None) -> None:
        """Drains the gRPC server and the front door side by side, then releases the core."""
        self._ready = False
        if self.front_door is not None and self._front_door_closed is None:
            self._front_door_closed = asyncio.ensure_future(self.front_door.close())
        await super().close(grace_seconds)

    def _traffic(self, dispatcher: Dispatcher) -> AnsweredTraffic:
        """The shadow calls (ORCHESTROUTER_SHADOW_RATE) and the store records of answered requests."""
        shadow = ShadowRouter(dispatcher.tiers, self.config.shadow) if self.config.shadow.rate > 0 else None
        if shadow is not None and self.store is None:
            log.warning("shadow routing is on but no traffic store is configured: shadow answers are counted, not kept")
        return AnsweredTraffic(shadow, TrafficRecorder(self.store) if self.store is not None else None)

    async def _get_ready(self) -> None:
        """Reads the scorer's model info and checks the embedder matches; then follows the scorer's reloads."""
        info = await self._wait_for_model_info(self.scorer_wait_s)
        self._use_model_info(info)
        log.info(
            "router ready: model %s %s, threshold %.4f",
            info.router_id,
            info.router_version,
            self.core.policy.default_threshold,
        )
        self._ready = True
        scorer = self.core.scorer
        self.core.model_refresh = ModelRefresh(lambda: scorer.model_info(timeout_s=5.0), self._use_model_info)

    def _use_model_info(self, info: scorer_pb2.GetModelInfoResponse) -> None:
        """Takes the scorer's router model: its calibration and names; refused if it expects another embedder."""
        embedder = self.core.embedder
        if info.embedder.name != embedder.name or info.embedder.dim != embedder.dim:
            raise StartupError(
                f"router model {info.router_id} {info.router_version} expects embedder "
                f"{info.embedder.name!r} ({info.embedder.dim}-d) but the router embeds with "
                f"{embedder.name!r} ({embedder.dim}-d)"
            )
        self.core.use_model(info.router_id, info.router_version, info.calibration_quantiles)

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

    async def _release(self) -> None:
        if self._front_door_closed is not None:
            await self._front_door_closed  # in-flight HTTP requests still use the core
        if self._core is not None:
            if self._core.model_refresh is not None:
                await self._core.model_refresh.close()
            # Before the store closes: cancels shadow calls (still recorded) and writes the queue out.
            await self._core.traffic.close()
            await self._core.dispatcher.close()
            await self._core.scorer.close()
            self._core.observer.close()
        await self._close_store()

    async def _close_store(self) -> None:
        """Stops the retention purges, then closes the store (last: what records into it closes first)."""
        if self._retention is not None:
            await asyncio.to_thread(self._retention.stop)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)


def main(worker: int | None = None) -> None:
    """One router process until SIGTERM; worker is its index under a supervisor (router.workers.main)."""
    serving.run_main(
        "orchestrouter-router",
        lambda: RouterServer(RouterConfig.from_env(), worker=worker),
        (ConfigError, StartupError),
    )
