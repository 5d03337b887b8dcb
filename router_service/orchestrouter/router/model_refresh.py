"""model_refresh: the router follows the scorer's model when the scorer hot-reloads a new one.

Each Score reply names the router model version that scored it. When that is not the version the
router took its calibration table and model names from (GetModelInfo at startup), the scorer has
put a new model in service, and the premium-share dial must use the new model's calibration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from orchestrouter.runtime.throttled_log import describe
from orchestrouter.v1 import scorer_pb2

log = logging.getLogger(__name__)

ModelInfo = scorer_pb2.GetModelInfoResponse


class ModelRefresh:
    """ModelRefresh: one GetModelInfo in the background when a Score reply names another model version.

    Routes never wait for it: until it lands, the previous calibration resolves the dial (the
    decision already reports the version that scored it). At most one refresh runs at a time, and a
    new one starts at most every min_interval_s (one asked for sooner waits, so the last version
    seen is always taken in the end): during a rollout, scorer replicas serving either version
    would otherwise ask on every request. fetch asks the scorer; apply takes the answer (and
    may refuse it by raising, e.g. a model for another embedder: the info in use stays).
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[ModelInfo]],
        apply: Callable[[ModelInfo], None],
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._apply = apply
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._started_at: float | None = None
        self.refreshes = 0

    def version_seen(self, version: str, in_use: str) -> None:
        """Called per Score reply: starts a refresh when version is not the one in use (never blocks)."""
        if version == in_use or (self._task is not None and not self._task.done()):
            return
        # Within min_interval_s of the last refresh, this one waits out the rest of it (in the background).
        wait_s = 0.0 if self._started_at is None else self._started_at + self._min_interval_s - self._clock()
        self._task = asyncio.get_running_loop().create_task(self._refresh(version, wait_s), name="model-info-refresh")

    async def _refresh(self, version: str, wait_s: float) -> None:
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        self._started_at = self._clock()
        try:
            info = await self._fetch()
            self._apply(info)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed refresh keeps the model info in use; a later reply retries
            log.warning("scorer serves router model version %s; cannot take its model info: %s", version, describe(exc))
            return
        self.refreshes += 1
        log.info("router model %s %s in use: calibration and names refreshed", info.router_id, info.router_version)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
