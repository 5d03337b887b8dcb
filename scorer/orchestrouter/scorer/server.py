"""Scorer process: ScorerServer(config), started with one call, and main()."""

from __future__ import annotations

import asyncio
import logging

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


class ScorerServer(serving.ServiceServer):
    """ScorerServer: the Score service; ready once its model is loaded and warmed.

    ``await ScorerServer(config).start()`` binds, loads the model and reports SERVING; until the
    model is loaded, Score answers UNAVAILABLE.
    """

    service_name = SERVICE_NAME
    role = "scorer"

    def __init__(self, config: ScorerConfig) -> None:
        super().__init__(config)
        self.config = config
        self.state = ScorerState(config.max_request_rows)

    def _register(self, server: aio.Server) -> None:
        scorer_pb2_grpc.add_ScorerServiceServicer_to_server(ScorerServicer(self.state), server)

    async def _get_ready(self) -> None:
        """Loads and warms the model off the event loop, then starts the micro-batcher."""
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
        log.info(
            "router model %s %s loaded from %s (embedder %s, %d-d)",
            engine.info.router_id,
            engine.info.version,
            self.config.model_path,
            engine.info.embedder_name,
            engine.dim,
        )

    async def _release(self) -> None:
        if self.state.batcher is not None:
            await self.state.batcher.stop()


def main() -> None:
    serving.run_main(
        "orchestrouter-scorer", lambda: ScorerServer(ScorerConfig.from_env()), (ConfigError, ArtifactError)
    )
