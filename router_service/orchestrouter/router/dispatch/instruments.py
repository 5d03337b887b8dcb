"""Dispatch telemetry through the OpenTelemetry API only: the SDK and exporters are set up elsewhere.

The instruments are those semconv describes for dispatch (attempts, fallbacks, tokens, cost, and the
circuit-state gauge). Without an SDK they are no-ops, so dispatch pays almost nothing for them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from opentelemetry import metrics, trace

from orchestrouter.router.dispatch.breaker import CircuitBreaker, CircuitState
from orchestrouter.runtime import semconv

tracer = trace.get_tracer(__name__)
_meter = metrics.get_meter(__name__)

# Gauge values: 0 closed, 1 half-open, 2 open, so "> 0" on a dashboard means trouble.
CIRCUIT_STATE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}

attempts = semconv.create_counter(_meter, semconv.METRIC_DISPATCH_ATTEMPTS)
fallbacks = semconv.create_counter(_meter, semconv.METRIC_DISPATCH_FALLBACKS)
tokens = semconv.create_counter(_meter, semconv.METRIC_DISPATCH_TOKENS)
cost = semconv.create_counter(_meter, semconv.METRIC_DISPATCH_COST)


# Every live breaker, read at each metric collection; dead ones (stopped servers) drop out by themselves.
_breakers: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()


def watch_circuit(breaker: CircuitBreaker) -> None:
    """Adds breaker to the circuit-state gauge."""
    _breakers.add(breaker)


def _observe_circuits(_options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return [metrics.Observation(CIRCUIT_STATE_VALUE[b.state], {semconv.TIER: b.name}) for b in list(_breakers)]


semconv.create_gauge(_meter, semconv.METRIC_CIRCUIT_STATE, _observe_circuits)
