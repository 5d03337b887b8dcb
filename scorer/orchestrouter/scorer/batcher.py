"""Micro-batching: concurrent Score requests share one ONNX Runtime run."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrouter.runtime.errors import ResourceExhausted, Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRun:
    """BatchRun: the ONNX run that scored a request, as that request saw it.

    Times are epoch nanoseconds (what span timestamps take). One run serves every request in
    it; ``batch_id`` is shared by them, ``offset`` is where this request's rows start. ``model``
    is what the batcher was given with the run function that scored it (see MicroBatcher.swap).
    """

    batch_id: int
    requests: int
    rows: int
    offset: int
    enqueued_ns: int
    start_ns: int
    end_ns: int
    model: Any = None


@dataclass
class _Pending:
    matrix: np.ndarray
    future: asyncio.Future
    enqueued_ns: int


class MicroBatcher:
    """MicroBatcher: queues requests and runs them together, up to max_rows per run.

    After taking the first waiting request it collects whatever else is queued, waiting up to
    ``max_wait_s`` for more while under ``max_rows``. With ``max_wait_s`` 0 it never delays a
    request: batches form from the requests that arrived while the previous run executed.

    With ``max_wait_s`` 0, a request that finds nothing queued and no run earlier in this turn of
    the event loop is run at once in its caller's coroutine: no queue, future or task switch, which
    cost a lone request more than its ONNX run. Requests that come in the same loop turn as that
    one (a burst) queue and share the next run, as before.
    """

    def __init__(
        self,
        run: Callable[[np.ndarray], np.ndarray],
        max_rows: int,
        max_wait_s: float,
        max_queue: int,
        on_batch: Callable[[int, int], None] | None = None,
        model: Any = None,
    ) -> None:
        self._run = run
        self._model = model
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task | None = None
        self._on_batch = on_batch
        self._closed = False
        self._batch_ids = itertools.count(1)
        # True from a run at once until the event loop's next turn (see score_with_run).
        self._ran_this_turn = False

    def swap(self, run: Callable[[np.ndarray], np.ndarray], model: Any = None) -> None:
        """Scores every later run with run; runs happen on the event loop, so none is split across the swap."""
        self._run, self._model = run, model

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="micro-batcher")

    async def stop(self) -> None:
        """Finishes what is queued, then stops."""
        self._closed = True
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def score(self, matrix: np.ndarray) -> np.ndarray:
        scores, _ = await self.score_with_run(matrix)
        return scores

    async def score_with_run(self, matrix: np.ndarray) -> tuple[np.ndarray, BatchRun]:
        """The scores of matrix's rows and the run that produced them."""
        if self._closed or self._task is None:
            raise Unavailable("scorer is not accepting requests")
        if self._max_wait_s == 0 and not self._ran_this_turn and self._queue.empty():
            return self._run_at_once(matrix)
        future = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(matrix, future, time.time_ns()))
        except asyncio.QueueFull:
            raise ResourceExhausted("scorer queue is full; retry with backoff") from None
        return await future

    async def _collect(self) -> list[_Pending]:
        first = await self._queue.get()
        batch, rows = [first], first.matrix.shape[0]
        deadline = asyncio.get_running_loop().time() + self._max_wait_s
        while rows < self._max_rows:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            batch.append(item)
            rows += item.matrix.shape[0]
        return batch

    async def _loop(self) -> None:
        while True:
            batch = await self._collect()
            try:
                self._run_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _run_at_once(self, matrix: np.ndarray) -> tuple[np.ndarray, BatchRun]:
        """One request's run, now, on the event loop (a run is microseconds: see _run_batch)."""
        self._ran_this_turn = True
        asyncio.get_running_loop().call_soon(self._next_turn)
        scores, batch_id, start_ns, end_ns, model = self._timed_run(matrix, 1)
        return scores, BatchRun(batch_id, 1, matrix.shape[0], 0, start_ns, start_ns, end_ns, model)

    def _timed_run(self, matrix: np.ndarray, requests: int) -> tuple[np.ndarray, int, int, int, Any]:
        """One ONNX run of matrix for requests requests: (scores, batch id, start and end ns, the run's model).

        A run is a few small matrix products (microseconds), so it runs on the event loop; a thread
        hop would cost more than the work. A failed run is logged and raised.
        """
        run, model = self._run, self._model
        start_ns = time.time_ns()
        try:
            scores = run(matrix)
        except Exception:
            log.exception("router model run failed")
            raise
        end_ns = time.time_ns()
        if self._on_batch is not None:
            self._on_batch(requests, matrix.shape[0])
        return scores, next(self._batch_ids), start_ns, end_ns, model

    def _next_turn(self) -> None:
        self._ran_this_turn = False

    def _run_batch(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done()]  # the caller may have gone
        if not live:
            return
        matrix = live[0].matrix if len(live) == 1 else np.concatenate([p.matrix for p in live])
        try:
            scores, batch_id, start_ns, end_ns, model = self._timed_run(matrix, len(live))
        except Exception as exc:  # noqa: BLE001 - logged by _timed_run; it fails every request of the run
            for p in live:
                p.future.set_exception(exc)
            return
        start = 0
        for p in live:
            end = start + p.matrix.shape[0]
            batch_run = BatchRun(batch_id, len(live), matrix.shape[0], start, p.enqueued_ns, start_ns, end_ns, model)
            p.future.set_result((scores[start:end], batch_run))
            start = end
