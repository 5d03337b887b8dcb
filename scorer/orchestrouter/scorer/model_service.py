"""ModelService: the router model in service, loaded, micro-batched and reloaded when its file changes.

The Score server serves from one; a router that scores in its own process (the in-process scorer,
composed above both layers by ``orchestrouter.tools.inprocess``) holds one too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from orchestrouter.runtime.watched_file import file_signature
from orchestrouter.scorer.batcher import MicroBatcher
from orchestrouter.scorer.config import ScorerConfig
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.scorer.model_reload import ModelReloader
from orchestrouter.scorer.servicer import ScorerState

log = logging.getLogger(__name__)


class ModelService:
    """ModelService: ``state`` is empty until load(); close() stops the batcher and the reloader."""

    def __init__(self, config: ScorerConfig) -> None:
        self.config = config
        self.state = ScorerState(config.max_request_rows)
        self.reloader: ModelReloader | None = None
        self._reload_task: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Loads and warms the model off the event loop, then starts the micro-batcher and, unless
        model_recheck_s is 0, the reloader (a changed model file is put in service without a restart)."""
        config = self.config
        # Before the load: a file replaced while it loads is loaded again by the first check.
        signature = file_signature(config.model_path) if config.model_path.exists() else ()
        engine = await asyncio.to_thread(ScoringEngine, config.model_path)
        batcher = MicroBatcher(
            engine.run,
            config.batch_max_rows,
            config.batch_max_wait_ms / 1000.0,
            config.max_queue,
            on_batch=self.state.telemetry.on_batch,
            model=engine,
        )
        batcher.start()
        self.state.engine, self.state.batcher = engine, batcher
        log.info(
            "router model %s %s loaded from %s (embedder %s, %d-d)",
            engine.info.router_id,
            engine.info.version,
            config.model_path,
            engine.info.embedder_name,
            engine.dim,
        )
        if config.model_recheck_s > 0:
            self.reloader = ModelReloader(config.model_path, self.state, config.model_recheck_s, signature)
            self._reload_task = asyncio.get_running_loop().create_task(
                self.reloader.run_forever(), name="model-reloader"
            )

    async def close(self) -> None:
        """Stops the reloader, then the batcher once what is queued has run. Closing twice does nothing more."""
        if self._reload_task is not None:
            self._reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload_task
            self._reload_task = None
        if self.state.batcher is not None:
            await self.state.batcher.stop()
