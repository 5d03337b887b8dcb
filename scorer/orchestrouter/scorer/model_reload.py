"""model_reload: the scorer puts a changed router model file in service without a restart.

In Kubernetes the model is a mounted ConfigMap or volume; a ConfigMap update swaps a symlink, so
the file is recognised as changed by its identity (runtime.watched_file.file_signature), not by
polling its bytes. A new file is loaded and warmed off the event loop while the old model keeps
serving, then swapped in between two batcher runs, so no Score call in flight ever fails.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from opentelemetry import metrics

from orchestrouter.runtime import semconv
from orchestrouter.runtime.throttled_log import describe
from orchestrouter.runtime.watched_file import file_signature
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.scorer.servicer import ScorerState

log = logging.getLogger(__name__)


class ModelReloader:
    """ModelReloader: every recheck_s, puts the model file in service again if it changed.

    The new file must load, describe itself, give probabilities in [0, 1] at warm-up (ScoringEngine
    checks all three) and take the same embeddings as the model serving: the router embeds with one
    embedder, and requests already queued were checked against the current dimension. A file that
    fails keeps the previous model serving; why is logged (once per distinct problem, the file may
    stay broken for a while) and counted. signature is that of the file the serving model came from.
    """

    def __init__(self, path: Path, state: ScorerState, recheck_s: float, signature: tuple[int, ...]) -> None:
        self.path = path
        self._state = state
        self._recheck_s = recheck_s
        self._signature: tuple[int, ...] | None = signature
        self._last_problem = ""
        self._reloads = semconv.create_counter(metrics.get_meter(semconv.SCORER_METER), semconv.METRIC_MODEL_RELOADS)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self._recheck_s)
            await self.check()

    async def check(self) -> bool:
        """Loads the file if it changed since the last check; True if a new model is now serving."""
        try:
            signature = file_signature(self.path)
        except OSError as exc:
            # Mid-swap, or the volume is gone: nothing to load; the serving model stays. Reported once
            # per disappearance; the file that comes back is loaded, even if it is the same one.
            if self._signature is not None:
                self._signature = None
                self._rejected(f"cannot read it ({exc.strerror})")
            return False
        if signature == self._signature:
            return False
        # Taken before the load: a file replaced again meanwhile has another signature and is loaded next time.
        self._signature = signature
        current, _ = self._state.ready()
        try:
            engine = await asyncio.to_thread(ScoringEngine, self.path, current.info.embedder_name)
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, the serving model stays
            self._rejected(describe(exc))
            return False
        if engine.dim != current.dim:
            self._rejected(f"it takes {engine.dim}-d embeddings, the model serving takes {current.dim}-d")
            return False
        self._state.swap(engine)
        self._last_problem = ""
        self._reloads.add(1, {semconv.OUTCOME: semconv.RELOAD_LOADED})
        log.info(
            "router model %s %s from %s is now serving (was %s %s)",
            engine.info.router_id,
            engine.info.version,
            self.path,
            current.info.router_id,
            current.info.version,
        )
        return True

    def _rejected(self, problem: str) -> None:
        self._reloads.add(1, {semconv.OUTCOME: semconv.RELOAD_REJECTED})
        if problem != self._last_problem:
            self._last_problem = problem
            log.warning("router model %s not loaded: %s; the previous model keeps serving", self.path, problem)
