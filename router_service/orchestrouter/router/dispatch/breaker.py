"""CircuitBreaker: stops calling an endpoint that keeps failing, and probes it after a cool-down."""

from __future__ import annotations

import collections
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


class CircuitState(enum.Enum):
    """CircuitState: closed lets calls through, open refuses them, half-open lets one probe through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSettings:
    """BreakerSettings: when a circuit opens and how long it stays open."""

    consecutive_failures: int = 10
    error_rate: float = 0.5
    window_s: float = 10.0
    min_calls: int = 20
    cooldown_s: float = 5.0


@dataclass
class Permit:
    """Permit: leave to make one call; a probe is the single call a half-open circuit allows."""

    probe: bool = False


class CircuitBreaker:
    """CircuitBreaker: one endpoint's circuit, driven by the outcome of each call.

    Opens after `consecutive_failures` failed calls in a row, or when the calls of the last
    `window_s` seconds (at least `min_calls` of them) failed at `error_rate` or more. After
    `cooldown_s` one probe call goes through: success closes the circuit, failure re-opens it.
    Single-threaded (one event loop), so no locks.
    """

    def __init__(self, name: str, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._opened_at = 0.0
        self._consecutive = 0
        self._window: collections.deque[tuple[float, bool]] = collections.deque()
        self._window_failures = 0
        self._probe_in_flight = False
        self.times_opened = 0

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.settings.cooldown_s:
            return CircuitState.HALF_OPEN
        return self._state

    def acquire(self) -> Permit | None:
        """A permit to call the endpoint now, or None while the circuit refuses calls."""
        state = self.state
        if state is CircuitState.CLOSED:
            return Permit()
        if state is CircuitState.HALF_OPEN and not self._probe_in_flight:
            self._state = CircuitState.HALF_OPEN
            self._probe_in_flight = True
            return Permit(probe=True)
        return None

    def on_success(self, permit: Permit) -> None:
        if permit.probe:
            self._probe_in_flight = False
            self._close()
            return
        if self._state is CircuitState.CLOSED:
            self._consecutive = 0
            self._record(failed=False)

    def on_failure(self, permit: Permit) -> None:
        if permit.probe:
            self._probe_in_flight = False
            self._open("the probe call failed")
            return
        if self._state is not CircuitState.CLOSED:
            return
        self._consecutive += 1
        self._record(failed=True)
        s = self.settings
        calls = len(self._window)
        if self._consecutive >= s.consecutive_failures:
            self._open(f"{self._consecutive} consecutive failures")
        elif calls >= s.min_calls and self._window_failures >= s.error_rate * calls:
            self._open(f"{self._window_failures} of {calls} calls failed in {s.window_s:g}s")

    def on_neutral(self, permit: Permit) -> None:
        """The call ended saying nothing about the endpoint's health (cancelled, or a bad request)."""
        if permit.probe:
            self._probe_in_flight = False

    def _record(self, failed: bool) -> None:
        now = self._clock()
        self._window.append((now, failed))
        self._window_failures += failed
        horizon = now - self.settings.window_s
        while self._window and self._window[0][0] < horizon:
            _, old_failed = self._window.popleft()
            self._window_failures -= old_failed

    def _open(self, why: str) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        self._reset_counts()
        self.times_opened += 1
        log.warning("%s endpoint circuit opened: %s; retrying in %.1fs", self.name, why, self.settings.cooldown_s)

    def _close(self) -> None:
        self._state = CircuitState.CLOSED
        self._reset_counts()
        log.info("%s endpoint circuit closed: the probe call succeeded", self.name)

    def _reset_counts(self) -> None:
        self._consecutive = 0
        self._window.clear()
        self._window_failures = 0
