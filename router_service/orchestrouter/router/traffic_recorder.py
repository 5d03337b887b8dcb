"""traffic_recorder: answered requests go to the traffic store from a background thread, in batches.

The store is synchronous (a database driver) and may be slow or down; the router's event loop must
never wait for it. record() only puts the record on a bounded queue; one writer thread takes what
has queued up (up to max_batch) and hands it to Store.record_requests in one call. A full queue or
a failing store drops records: counted (orchestrouter.traffic.dropped) and reported by a throttled
warning, never an error to the caller. close() writes what is queued before it returns.
"""

from __future__ import annotations

import logging
import queue
import threading

from opentelemetry import metrics

from orchestrouter.runtime import semconv
from orchestrouter.runtime.throttled_log import ThrottledWarning, describe
from orchestrouter.store import RequestRecord, Store

log = logging.getLogger(__name__)

_STOP = None  # queued by close(): the writer writes what is ahead of it, then ends


class TrafficRecorder:
    """TrafficRecorder: a bounded queue of RequestRecords and the thread that writes them to store.

    The store is the caller's: close() stops the writer but leaves the store open.
    """

    def __init__(self, store: Store, max_queue: int = 10_000, max_batch: int = 256) -> None:
        self.store = store
        self._max_batch = max_batch
        self._queue: queue.Queue[RequestRecord | None] = queue.Queue(max_queue)
        self._lock = threading.Lock()
        self.recorded = 0
        self.dropped = 0
        self._warning = ThrottledWarning(log, "answered requests not recorded in the traffic store")
        self._dropped_metric = semconv.create_counter(
            metrics.get_meter(semconv.ROUTER_METER), semconv.METRIC_TRAFFIC_DROPPED
        )
        self._thread = threading.Thread(target=self._write_until_stopped, name="traffic-recorder", daemon=True)
        self._thread.start()

    def record(self, record: RequestRecord) -> None:
        """Queues record for the store; never blocks, never raises (a full queue drops it, counted)."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._drop(1, semconv.TRAFFIC_QUEUE_FULL, f"the queue of {self._queue.maxsize} records is full")

    def close(self, timeout_s: float = 10.0) -> None:
        """Writes the records queued so far, then stops the writer (waiting at most timeout_s)."""
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            log.warning("traffic recorder: the queue stayed full for %.0fs; records still queued are lost", timeout_s)
            return
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("traffic recorder: the store took over %.0fs; records still queued are lost", timeout_s)
        with self._lock:
            self._warning.flush()

    def _write_until_stopped(self) -> None:
        stopping = False
        while not stopping:
            # Whatever queued up while the last batch was written goes in the next one.
            batch: list[RequestRecord] = []
            item = self._queue.get()
            while True:
                if item is None:  # _STOP: what was queued before it is in this batch
                    stopping = True
                    break
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)

    def _write(self, batch: list[RequestRecord]) -> None:
        try:
            self.store.record_requests(batch)
        except Exception as exc:  # noqa: BLE001 - a failing store drops records, never the router
            self._drop(len(batch), semconv.TRAFFIC_STORE_FAILED, describe(exc))
            return
        with self._lock:
            self.recorded += len(batch)

    def _drop(self, count: int, reason: str, detail: str) -> None:
        with self._lock:
            self.dropped += count
            self._warning(f"{reason}: {detail} ({count} records)")
        self._dropped_metric.add(count, {semconv.REASON: reason})
