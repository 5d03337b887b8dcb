"""Scorer process: ScorerServer(config), started with one call, and main()."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from grpc import aio

from orchestrouter.runtime import serving
from orchestrouter.runtime.watched_file import file_signature
from orchestrouter.scorer.artifact import ArtifactError
from orchestrouter.scorer.batcher import MicroBatcher
from orchestrouter.scorer.config import ConfigError, ScorerConfig
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.scorer.model_reload import ModelReloader
from orchestrouter.scorer.servicer import ScorerServicer, ScorerState
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = scorer_pb2.DESCRIPTOR.services_by_name["ScorerService"].full_name


class ScorerServer(serving.ServiceServer):
    """ScorerServer: the Score service; ready once its model is loaded and warmed.

    ``await ScorerServer(config).start()`` binds, loads the model and reports SERVING; until the
    model is loaded, Score answers UNAVAILABLE. Then, unless model_recheck_s is 0, a changed model
    file is put in service without a restart (scorer.model_reload).
    """

    service_name = SERVICE_NAME
    role = "scorer"

    def __init__(self, config: ScorerConfig) -> None:
        super().__init__(config)
        self.config = config
        self.state = ScorerState(config.max_request_rows)
        self.reloader: ModelReloader | None = None
        self._reload_task: asyncio.Task[None] | None = None

    def _register(self, server: aio.Server) -> None:
        scorer_pb2_grpc.add_ScorerServiceServicer_to_server(ScorerServicer(self.state), server)

    async def _get_ready(self) -> None:
        """Loads and warms the model off the event loop, then starts the micro-batcher and the reloader."""
        # Before the load: a file replaced while it loads is loaded again by the first check.
        signature = file_signature(self.config.model_path) if self.config.model_path.exists() else ()
        engine = await asyncio.to_thread(ScoringEngine, self.config.model_path)
        batcher = MicroBatcher(
            engine.run,
            self.config.batch_max_rows,
            self.config.batch_max_wait_ms / 1000.0,
            self.config.max_queue,
            on_batch=self.state.telemetry.on_batch,
            model=engine,
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
        if self.config.model_recheck_s > 0:
            self.reloader = ModelReloader(self.config.model_path, self.state, self.config.model_recheck_s, signature)
            self._reload_task = asyncio.get_running_loop().create_task(
                self.reloader.run_forever(), name="model-reloader"
            )

    async def _release(self) -> None:
        if self._reload_task is not None:
            self._reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload_task
        if self.state.batcher is not None:
            await self.state.batcher.stop()


def main() -> None:
    serving.run_main(
        "orchestrouter-scorer", lambda: ScorerServer(ScorerConfig.from_env()), (ConfigError, ArtifactError)
    )
