"""batch_writer: a bounded queue and the one thread that writes what has queued, in batches.

For side paths that must never make a request wait (the decision log, the traffic store): put()
only appends to the queue and never blocks; a writer thread, started by the first put(), takes
whatever has queued up (at most max_batch items) and hands it to write_batch. Woken by the first item
after a quiet spell, it lingers linger_s for more before it takes them, so under load it wakes (and
takes the GIL from the event loop) once per linger, not once per item. A full queue refuses
the item (put() says so, and the owner counts it); after close() items are ignored. flush() waits
until what was queued before it is written, and close() writes everything still queued before the
thread ends.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from orchestrouter.runtime.throttled_log import describe

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatchWriter(Generic[T]):
    """BatchWriter: queues items for write_batch, which runs on the writer thread named name.

    write_batch is expected to deal with its own failures (count them, report them); one that escapes
    is logged and costs that batch only, never the thread.
    """

    def __init__(
        self,
        write_batch: Callable[[list[T]], None],
        *,
        name: str,
        max_queued: int,
        max_batch: int | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self._write_batch = write_batch
        self._name = name
        self.max_queued = max_queued
        self._max_batch = max_batch
        self._linger_s = linger_s
        # flush() calls waiting: the writer does not linger while one waits.
        self._flushing = 0
        self._queue: deque[T] = deque()
        self._cond = threading.Condition(threading.Lock())
        # Items handed to put() and items the writer is done with (written or lost).
        self._accepted = 0
        self._done = 0
        self._closing = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    @property
    def full(self) -> bool:
        return len(self._queue) >= self.max_queued

    def put(self, item: T) -> bool:
        """Queues item; never blocks. False if the queue is full (item not queued); ignored once closed."""
        with self._cond:
            if self._closing:
                return True
            if len(self._queue) >= self.max_queued:
                return False
            self._queue.append(item)
            self._accepted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif len(self._queue) == 1:
                self._cond.notify()  # the writer waits only when the queue is empty
        return True

    def flush(self, timeout_s: float | None = None) -> bool:
        """Waits until every item queued so far is written (or lost); False if timeout_s passed first
        or the writer stopped before it got to them."""
        with self._cond:
            target = self._accepted
            self._flushing += 1
            self._cond.notify_all()  # cuts a linger short
            try:
                self._cond.wait_for(lambda: self._done >= target or self._stopped, timeout_s)
            finally:
                self._flushing -= 1
            return self._done >= target

    def close(self, timeout_s: float) -> bool:
        """Writes everything queued, then ends the thread; False if that took longer than timeout_s
        (the thread goes on in the background and what it has not written yet is lost at exit)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    self._stopped = True
                    self._cond.notify_all()
                    return
                if self._linger_s and not self._closing and not self._flushing:
                    # put() does not notify while items are queued, so only flush() or close() cut this short.
                    self._cond.wait(self._linger_s)
                count = len(self._queue) if self._max_batch is None else min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
            try:
                self._write_batch(batch)
            except Exception as exc:  # noqa: BLE001 - a side path's writer never dies of one batch
                log.warning("%s: a batch of %d was not written: %s", self._name, len(batch), describe(exc))
            finally:
                with self._cond:
                    self._done += len(batch)
                    self._cond.notify_all()
