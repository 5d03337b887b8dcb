"""route_metrics: the router's OpenTelemetry instruments, recorded once per request.

Names (attributes in brackets):
- ``orchestrouter.routes`` counter [tier, model, outcome, status, fallback, degraded]
- ``orchestrouter.win_probability`` histogram, buckets of 0.05
- ``orchestrouter.hop.duration`` histogram in ms [hop: embed, score, dispatch, total]
  (the scorer records scorer.queue and scorer.onnx_run under the same name)
The dispatch layer counts per endpoint call, where it knows them first (``orchestrouter.router.dispatch.
instruments``): attempts, fallbacks by from/to tier and reason, tokens, cost, and the circuit state
gauge. Before a MeterProvider is installed (metrics off) every instrument is a no-op.
"""

from __future__ import annotations

from opentelemetry import metrics

from orchestrouter.router.model import Decision, Timings

_PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 20))
_MS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 120000)


class RouteMetrics:
    """RouteMetrics: counters and histograms for routed requests."""

    def __init__(self) -> None:
        meter = metrics.get_meter("orchestrouter.router")
        self._routes = meter.create_counter(
            "orchestrouter.routes", unit="{request}", description="Route requests by tier, model and outcome"
        )
        self._win_probability = meter.create_histogram(
            "orchestrouter.win_probability",
            unit="1",
            description="The router's P(premium answer better)",
            explicit_bucket_boundaries_advisory=_PROBABILITY_BUCKETS,
        )
        self._hop = meter.create_histogram(
            "orchestrouter.hop.duration",
            unit="ms",
            description="Time a request spent in each hop",
            explicit_bucket_boundaries_advisory=_MS_BUCKETS,
        )

    def record(self, decision: Decision | None, timings: Timings, outcome: str, status: str) -> None:
        tier = decision.tier if decision else ""
        model = decision.model if decision else ""
        self._routes.add(
            1,
            {
                "orchestrouter.tier": tier,
                "orchestrouter.model": model,
                "orchestrouter.outcome": outcome,
                "orchestrouter.status": status,
                "orchestrouter.fallback": bool(decision and decision.fell_back),
                "orchestrouter.degraded": bool(decision and decision.degraded),
            },
        )
        for hop, ms in (
            ("embed", timings.embed_ms),
            ("score", timings.score_ms),
            ("dispatch", timings.dispatch_ms),
            ("total", timings.total_ms),
        ):
            if ms > 0:
                self._hop.record(ms, {"orchestrouter.hop": hop})
        if decision is not None and not decision.degraded:
            self._win_probability.record(decision.win_probability)
