"""traffic_recorder: answered requests go to the traffic store from a background thread, in batches.

The store is synchronous (a database driver) and may be slow or down; the router's event loop must
never wait for it. record() (a request with its served answer) and record_answer() (an answer that
came later: a shadow call's) only put an item on one bounded queue; one writer thread takes what has
queued up (up to max_batch) and writes it: the batch's requests first (Store.record_requests), then
its answers (Store.record_answers). A request is queued before any later answer to it, so its row is
always written first. A full queue, a failing store or an answer whose request was not stored drops
items: counted (orchestrouter.traffic.dropped) and reported by a throttled warning, never an error to
the caller. close() writes what is queued before it returns.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from opentelemetry import metrics

from orchestrouter.runtime import semconv
from orchestrouter.runtime.throttled_log import ThrottledWarning, describe
from orchestrouter.store import AnswerRecord, RequestRecord, Store

log = logging.getLogger(__name__)

_STOP = None  # queued by close(): the writer writes what is ahead of it, then ends
# A request with its served answer, or (request id, answer) for an answer that came later.
Item = RequestRecord | tuple[str, AnswerRecord]
# Queued by written(): the writer sets it once everything queued before it is written (or dropped).
Marker = threading.Event


class TrafficRecorder:
    """TrafficRecorder: a bounded queue of requests and later answers, and the thread that writes them to store.

    recorded and dropped count items: a request (with the answers it came with) or a later answer.

    The store is the caller's: close() stops the writer but leaves the store open.
    """

    def __init__(self, store: Store, max_queue: int = 10_000, max_batch: int = 256) -> None:
        self.store = store
        self._max_batch = max_batch
        self._queue: queue.Queue[Item | Marker | None] = queue.Queue(max_queue)
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
        self._put(record)

    def record_answer(self, request_id: str, answer: AnswerRecord) -> None:
        """Queues answer, to join request_id's record (queued before it); never blocks, never raises."""
        self._put((request_id, answer))

    def written(self, timeout_s: float) -> bool:
        """Waits (at most timeout_s) until what was queued before this call is written; False if it was not.

        Blocks: call it on a worker thread. A full queue or a closed recorder is not waited for (False at once).
        """
        marker = Marker()
        if not self._thread.is_alive():  # closed: nothing more will be written
            return False
        try:
            self._queue.put_nowait(marker)
        except queue.Full:
            return False
        return marker.wait(timeout_s)

    def _put(self, item: Item) -> None:
        try:
            self._queue.put_nowait(item)
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
            batch: list[Item] = []
            markers: list[Marker] = []
            item = self._queue.get()
            while True:
                if item is None:  # _STOP: what was queued before it is in this batch
                    stopping = True
                    break
                if isinstance(item, Marker):  # set once the batch before it is written
                    markers.append(item)
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
            for marker in markers:
                marker.set()

    def _write(self, batch: list[Item]) -> None:
        requests = [item for item in batch if isinstance(item, RequestRecord)]
        answers = [item for item in batch if not isinstance(item, RequestRecord)]
        # Requests first: an answer in this batch may belong to a request in it.
        if requests:
            self._write_part(len(requests), lambda: self.store.record_requests(requests))
        if answers:
            self._write_part(len(answers), lambda: self.store.record_answers(answers))

    def _write_part(self, count: int, write: Callable[[], int | None]) -> None:
        try:
            # record_answers returns how many answers found no request (its request row was dropped).
            unknown = write() or 0
        except Exception as exc:  # noqa: BLE001 - a failing store drops records, never the router
            self._drop(count, semconv.TRAFFIC_STORE_FAILED, describe(exc))
            return
        if unknown:
            self._drop(unknown, semconv.TRAFFIC_REQUEST_NOT_STORED, "answers whose request was not recorded")
        with self._lock:
            self.recorded += count - unknown

    def _drop(self, count: int, reason: str, detail: str) -> None:
        with self._lock:
            self.dropped += count
            self._warning(f"{reason}: {detail} ({count} records)")
        self._dropped_metric.add(count, {semconv.REASON: reason})
