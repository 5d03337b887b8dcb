"""Scorer process: create_server(config) -> ScorerServer, serve(config), main()."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from grpc import aio

from orchestrouter.runtime import serving
from orchestrouter.scorer.artifact import ArtifactError
from orchestrouter.scorer.batcher import MicroBatcher
from orchestrouter.scorer.config import ConfigError, ScorerConfig
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.scorer.servicer import ScorerServicer, ScorerState
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = scorer_pb2.DESCRIPTOR.services_by_name["ScorerService"].full_name


@dataclass
class ScorerServer:
    """ScorerServer: a started-or-not gRPC server whose model loads after it binds."""

    server: aio.Server
    port: int
    config: ScorerConfig
    state: ScorerState
    health: serving.Health

    async def load_model(self) -> None:
        """Loads and warms the model off the event loop, then reports SERVING."""
        engine = await asyncio.to_thread(ScoringEngine, self.config.model_path)
        batcher = MicroBatcher(
            engine.run,
            self.config.batch_max_rows,
            self.config.batch_max_wait_ms / 1000.0,
            self.config.max_queue,
            on_batch=self.state.telemetry.on_batch,
        )
        batcher.start()
        self.state.engine, self.state.batcher = engine, batcher
        await self.health.set(serving.SERVING)
        log.info(
            "router model %s %s loaded from %s (embedder %s, %d-d)",
            engine.info.router_id,
            engine.info.version,
            self.config.model_path,
            engine.info.embedder_name,
            engine.dim,
        )

    async def stop(self, grace_seconds: float | None = None) -> None:
        grace = self.config.grace_seconds if grace_seconds is None else grace_seconds
        await serving.drain(self.server, self.health, grace)
        if self.state.batcher is not None:
            await self.state.batcher.stop()


async def create_server(config: ScorerConfig) -> ScorerServer:
    """Builds and binds the server, health NOT_SERVING; call start() then load_model()."""
    server = serving.new_server()
    state = ScorerState(config.max_request_rows)
    scorer_pb2_grpc.add_ScorerServiceServicer_to_server(ScorerServicer(state), server)
    health = serving.Health([SERVICE_NAME])
    await health.set(serving.NOT_SERVING)
    serving.add_health_and_reflection(server, health, [SERVICE_NAME], config.reflection)
    port = serving.bind(server, config.listen)
    return ScorerServer(server, port, config, state, health)


async def serve(config: ScorerConfig) -> None:
    scorer = await create_server(config)
    await scorer.server.start()
    log.info("scorer listening on %s (port %d)", config.listen, scorer.port)
    try:
        await scorer.load_model()
    except BaseException:
        await scorer.server.stop(0)
        raise
    await serving.wait_for_termination_signal()
    await scorer.stop()


def main() -> None:
    serving.run_main("orchestrouter-scorer", lambda: serve(ScorerConfig.from_env()), (ConfigError, ArtifactError))
