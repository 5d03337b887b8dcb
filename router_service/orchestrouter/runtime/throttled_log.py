"""throttled_log: a warning logged at most once per interval, however often its cause repeats.

For failures a caller can provoke at will (undecodable requests) or that repeat on every request
(a full disk under the decision log): one line per interval says what happened and how many times
since the last line, so a flood of them cannot fill a disk. The clock is injectable for tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

DEFAULT_INTERVAL_S = 60.0


class ThrottledWarning:
    """ThrottledWarning: logs message on logger at most once per interval_s, with the count since the last line."""

    def __init__(
        self,
        logger: logging.Logger,
        message: str,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._message = message
        self._interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._unreported = 0
        self._detail = ""
        self.count = 0

    def __call__(self, detail: str) -> None:
        """Counts one occurrence; logs one line (message, detail, occurrences) when the interval has passed."""
        self.count += 1
        self._unreported += 1
        # detail is one line of our own words (an exception's class and message), never a traceback.
        self._detail = (detail.splitlines() or [""])[0][:300]
        now = self._clock()
        if self._last is not None and now - self._last < self._interval_s:
            return
        self._last = now
        self._report()

    def flush(self) -> None:
        """Logs the occurrences not yet reported (at shutdown), so the lines' counts add up to count."""
        if self._unreported:
            self._report()

    def _report(self) -> None:
        self._logger.warning("%s (%d times since the last report): %s", self._message, self._unreported, self._detail)
        self._unreported = 0


def describe(exc: BaseException) -> str:
    """describe: one line for an exception: its class and the first line of its message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
