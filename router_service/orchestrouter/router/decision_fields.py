"""decision_fields: a Decision's fields, listed once, with what each is called where it is reported.

Each field of ``model.Decision`` has its key in the decision-log line, its attribute on the Route
server span, whether it labels the ``orchestrouter.routes`` counter, and its field in the
``orchestrouter.v1.Decision`` reply (the same name as on the Decision). The decision log
(decision_log.py), the span (route_observer.py), the metric (route_metrics.py) and the reply
(convert.py) are all built from DECISION_FIELDS, so a new field is added here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrouter.router.model import Decision
from orchestrouter.runtime import semconv


@dataclass(frozen=True)
class DecisionField:
    """DecisionField: one field of a Decision and its names in the log, on the span and in the reply."""

    # The Decision attribute, and the field of the orchestrouter.v1.Decision message.
    name: str
    # Its key in the decision-log line.
    log_key: str
    # Its attribute on the Route server span (a semconv name).
    span_attribute: str
    # Rounded to this many decimals in the decision log (a probability needs no more).
    log_digits: int | None = None
    # On the span only while this Decision flag is set: a reason means nothing without its event.
    span_if: str = ""
    # Also an attribute of the orchestrouter.routes counter (a few values only, never free text).
    metric: bool = False
    # A tier name, which the reply carries as the Tier enum.
    tier: bool = False

    def log_value(self, decision: Decision) -> Any:
        value = getattr(decision, self.name)
        return value if self.log_digits is None else round(value, self.log_digits)


DECISION_FIELDS = (
    DecisionField("tier", "tier", semconv.TIER, metric=True, tier=True),
    DecisionField("routed_tier", "routed_tier", semconv.ROUTED_TIER, tier=True),
    DecisionField("model", "model", semconv.MODEL, metric=True),
    DecisionField("win_probability", "win_probability", semconv.WIN_PROBABILITY, log_digits=6),
    DecisionField("threshold", "threshold", semconv.THRESHOLD, log_digits=6),
    DecisionField("router_id", "router_id", semconv.ROUTER_ID),
    DecisionField("router_version", "router_version", semconv.ROUTER_VERSION),
    DecisionField("degraded", "degraded", semconv.DEGRADED, metric=True),
    DecisionField("degraded_reason", "degraded_reason", semconv.DEGRADED_REASON, span_if="degraded"),
    DecisionField("fell_back", "fallback", semconv.FALLBACK, metric=True),
    DecisionField("fallback_reason", "fallback_reason", semconv.FALLBACK_REASON, span_if="fell_back"),
    DecisionField("attempts", "attempts", semconv.ATTEMPTS),
    DecisionField("budget_limited", "budget_limited", semconv.BUDGET_LIMITED, metric=True),
    DecisionField("budget_reason", "budget_reason", semconv.BUDGET_REASON, span_if="budget_limited"),
)

# What the routes counter says of a request that failed before it was decided.
_UNDECIDED = Decision(tier="", model="", win_probability=0.0, threshold=0.0)


def log_fields(decision: Decision) -> dict[str, Any]:
    """The decision's part of a decision-log line, in the line's order."""
    return {f.log_key: f.log_value(decision) for f in DECISION_FIELDS}


def span_attributes(decision: Decision) -> dict[str, Any]:
    """The decision's attributes on the Route server span."""
    return {
        f.span_attribute: getattr(decision, f.name)
        for f in DECISION_FIELDS
        if not f.span_if or getattr(decision, f.span_if)
    }


def metric_attributes(decision: Decision | None) -> dict[str, Any]:
    """The decision's attributes on the routes counter; empty values when there was no decision."""
    decision = decision or _UNDECIDED
    return {f.span_attribute: getattr(decision, f.name) for f in DECISION_FIELDS if f.metric}
