"""RetentionPurger: deletes traffic-store requests older than the retention period, hourly, in a thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from opentelemetry import metrics

from orchestrouter.runtime import semconv
from orchestrouter.store import Store

log = logging.getLogger(__name__)

DAY_S = 86_400.0
DEFAULT_INTERVAL_S = 3600.0
STOP_WAIT_S = 5.0


class RetentionPurger:
    """RetentionPurger: purges at start, then every interval_s, until stop(). A failure is logged and
    counted (orchestrouter.store.retention.failures) and the next run tries again; it never stops the router."""

    def __init__(
        self,
        store: Store,
        retention_days: float,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._retention_s = retention_days * DAY_S
        self._interval_s = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._failures = semconv.create_counter(
            metrics.get_meter(semconv.ROUTER_METER), semconv.METRIC_STORE_RETENTION_FAILURES
        )
        self.runs = 0  # completed runs, failed or not (tests wait on it)
        self.failures = 0  # failed runs, as the counter counts them
        self._thread = threading.Thread(target=self._loop, name="store-retention", daemon=True)
        self._thread.start()

    def purge_once(self) -> int:
        """One purge; how many requests it deleted (-1 when it failed)."""
        try:
            purged = self._store.purge(older_than=self._clock() - self._retention_s)
        except Exception as exc:  # noqa: BLE001 - a side path: whatever fails, the router serves on
            self.failures += 1
            self._failures.add(1)
            log.warning("traffic store retention purge failed (trying again in %.0fs): %s", self._interval_s, exc)
            return -1
        if purged:
            log.info(
                "traffic store retention: purged %d requests older than %g days", purged, self._retention_s / DAY_S
            )
        return purged

    def _loop(self) -> None:
        while True:
            self.purge_once()
            self.runs += 1
            if self._stop.wait(self._interval_s):
                return

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stops the thread, waiting a little for a purge in progress (a hung database cannot hold shutdown)."""
        self._stop.set()
        self._thread.join(STOP_WAIT_S)
