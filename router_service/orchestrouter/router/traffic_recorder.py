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
import threading
from collections.abc import Callable

from opentelemetry import metrics

from orchestrouter.runtime import semconv
from orchestrouter.runtime.batch_writer import BatchWriter
from orchestrouter.runtime.throttled_log import ThrottledWarning, describe
from orchestrouter.store import AnswerRecord, RequestRecord, Store

log = logging.getLogger(__name__)

# A request with its served answer, or (request id, answer) for an answer that came later.
Item = RequestRecord | tuple[str, AnswerRecord]


class TrafficRecorder:
    """TrafficRecorder: a bounded queue of requests and later answers, and the thread that writes them to store.

    recorded and dropped count items: a request (with the answers it came with) or a later answer.

    The store is the caller's: close() stops the writer but leaves the store open.
    """

    def __init__(self, store: Store, max_queue: int = 10_000, max_batch: int = 256) -> None:
        self.store = store
        self._writer: BatchWriter[Item] = BatchWriter(
            self._write, name="traffic-recorder", max_queued=max_queue, max_batch=max_batch, linger_s=0.05
        )
        self._lock = threading.Lock()
        self.recorded = 0
        self.dropped = 0
        self._warning = ThrottledWarning(log, "answered requests not recorded in the traffic store")
        self._dropped_metric = semconv.create_counter(
            metrics.get_meter(semconv.ROUTER_METER), semconv.METRIC_TRAFFIC_DROPPED
        )

    def record(self, record: RequestRecord) -> None:
        """Queues record for the store; never blocks, never raises (a full queue drops it, counted)."""
        self._put(record)

    def record_answer(self, request_id: str, answer: AnswerRecord) -> None:
        """Queues answer, to join request_id's record (queued before it); never blocks, never raises."""
        self._put((request_id, answer))

    def written(self, timeout_s: float) -> bool:
        """Waits (at most timeout_s) until what was queued before this call is written; False if it was not.

        Blocks: call it on a worker thread. A full queue is not waited for (False at once); once the recorder is
        closed it is True only if everything queued was written.
        """
        if self._writer.full:
            return False
        return self._writer.flush(timeout_s)

    def _put(self, item: Item) -> None:
        if not self._writer.put(item):
            self._drop(1, semconv.TRAFFIC_QUEUE_FULL, f"the queue of {self._writer.max_queued} records is full")

    def close(self, timeout_s: float = 10.0) -> None:
        """Writes the records queued so far, then stops the writer (waiting at most timeout_s)."""
        if not self._writer.close(timeout_s):
            log.warning("traffic recorder: the store took over %.0fs; records still queued are lost", timeout_s)
        with self._lock:
            self._warning.flush()

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
