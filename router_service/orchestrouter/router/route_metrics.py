"""route_metrics: the router's OpenTelemetry instruments, recorded once per request.

Instruments (attributes in brackets; names, units and buckets in ``orchestrouter.runtime.semconv``):
- ``orchestrouter.routes`` counter [tier, model, outcome, status, fallback, degraded, budget_limited, caller]
- ``orchestrouter.win_probability`` histogram, buckets of 0.05
- ``orchestrouter.hop.duration`` histogram in ms [hop: embed, score, dispatch, total]
  (the scorer records scorer.queue and scorer.onnx_run in the same metric)
The dispatch layer counts per endpoint call, where it knows them first (``orchestrouter.router.dispatch.
instruments``): attempts, fallbacks by from/to tier and reason, tokens, cost, and the circuit state
gauge. Before a MeterProvider is installed (metrics off) every instrument is a no-op.
"""

from __future__ import annotations

from opentelemetry import metrics

from orchestrouter.router import decision_fields
from orchestrouter.router.model import Decision, Timings
from orchestrouter.runtime import semconv


class RouteMetrics:
    """RouteMetrics: counters and histograms for routed requests."""

    def __init__(self) -> None:
        meter = metrics.get_meter(semconv.ROUTER_METER)
        self._routes = semconv.create_counter(meter, semconv.METRIC_ROUTES)
        self._win_probability = semconv.create_histogram(meter, semconv.METRIC_WIN_PROBABILITY)
        self._hop = semconv.create_histogram(meter, semconv.METRIC_HOP_DURATION)

    @staticmethod
    def failures_counter() -> metrics.Counter:
        """The counter of requests whose decision-log line, span attributes or metrics could not be recorded."""
        return semconv.create_counter(metrics.get_meter(semconv.ROUTER_METER), semconv.METRIC_RECORD_FAILURES)

    def record(self, decision: Decision | None, timings: Timings, outcome: str, status: str, caller: str = "") -> None:
        attributes = decision_fields.metric_attributes(decision)
        attributes[semconv.OUTCOME] = outcome
        attributes[semconv.STATUS] = status
        # Callers are the few names of the token file, never free text.
        attributes[semconv.CALLER] = caller
        self._routes.add(1, attributes)
        for hop, ms in (
            (semconv.HOP_EMBED, timings.embed_ms),
            (semconv.HOP_SCORE, timings.score_ms),
            (semconv.HOP_DISPATCH, timings.dispatch_ms),
            (semconv.HOP_TOTAL, timings.total_ms),
        ):
            if ms > 0:
                self._hop.record(ms, {semconv.HOP: hop})
        if decision is not None and not decision.degraded:
            self._win_probability.record(decision.win_probability)
