"""Dispatch telemetry through the OpenTelemetry API only: the SDK and exporters are set up elsewhere.

Without an SDK these are no-ops, so dispatch pays almost nothing for them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from opentelemetry import metrics, trace

from orchestrouter.router.dispatch.breaker import CircuitBreaker, CircuitState

tracer = trace.get_tracer(__name__)
_meter = metrics.get_meter(__name__)

ATTEMPT_SPAN = "dispatch.attempt"
TIER = "orchestrouter.tier"
MODEL = "orchestrouter.model"
ATTEMPT = "orchestrouter.attempt"
OUTCOME = "orchestrouter.outcome"
STREAM = "orchestrouter.stream"

# Gauge values: 0 closed, 1 half-open, 2 open, so "> 0" on a dashboard means trouble.
CIRCUIT_STATE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}

attempts = _meter.create_counter(
    "orchestrouter.dispatch.attempts",
    unit="{call}",
    description="Endpoint calls, by tier and outcome (ok or the failure kind)",
)
fallbacks = _meter.create_counter(
    "orchestrouter.dispatch.fallbacks",
    unit="{request}",
    description="Requests answered by another tier than the routed one, by from/to tier and reason",
)
tokens = _meter.create_counter(
    "orchestrouter.dispatch.tokens", unit="{token}", description="Tokens used, by tier and kind (input, output)"
)
cost = _meter.create_counter(
    "orchestrouter.dispatch.cost", unit="USD", description="Cost of the tokens used at the configured prices"
)


# Every live breaker, read at each metric collection; dead ones (stopped servers) drop out by themselves.
_breakers: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()


def watch_circuit(breaker: CircuitBreaker) -> None:
    """Adds breaker to the circuit-state gauge."""
    _breakers.add(breaker)


def _observe_circuits(_options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return [metrics.Observation(CIRCUIT_STATE_VALUE[b.state], {TIER: b.name}) for b in list(_breakers)]


_meter.create_observable_gauge(
    "orchestrouter.endpoint.circuit_state",
    callbacks=[_observe_circuits],
    unit="1",
    description="Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open",
)
