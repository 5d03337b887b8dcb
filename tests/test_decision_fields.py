"""One table of a Decision's fields feeds the decision log, the Route span, the routes metric and the reply."""

from __future__ import annotations

import dataclasses

from orchestrouter.router import convert, decision_fields
from orchestrouter.router.decision_fields import DECISION_FIELDS
from orchestrouter.router.model import Decision
from orchestrouter.v1 import router_pb2

DECISION = Decision(
    tier="small",
    model="small-model",
    win_probability=0.123456789,
    threshold=0.5,
    router_id="r",
    router_version="v1",
    routed_tier="premium",
    fell_back=True,
    fallback_reason="premium endpoint returned 503",
    attempts=3,
)


def test_every_decision_field_and_every_reply_field_is_listed_once():
    names = [f.name for f in DECISION_FIELDS]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(Decision))
    assert sorted(names) == sorted(router_pb2.Decision.DESCRIPTOR.fields_by_name)


def test_the_span_carries_a_reason_only_with_its_flag():
    attributes = decision_fields.span_attributes(DECISION)
    assert attributes["orchestrouter.fallback"] is True
    assert attributes["orchestrouter.fallback_reason"] == "premium endpoint returned 503"
    assert "orchestrouter.degraded_reason" not in attributes
    assert set(attributes) == {
        "orchestrouter.tier",
        "orchestrouter.routed_tier",
        "orchestrouter.model",
        "orchestrouter.win_probability",
        "orchestrouter.threshold",
        "orchestrouter.router_id",
        "orchestrouter.router_version",
        "orchestrouter.fallback",
        "orchestrouter.fallback_reason",
        "orchestrouter.attempts",
        "orchestrouter.degraded",
        "orchestrouter.budget_limited",
    }


def test_the_log_rounds_probabilities_and_the_metric_labels_only_few_valued_fields():
    assert decision_fields.log_fields(DECISION)["win_probability"] == 0.123457
    assert decision_fields.metric_attributes(DECISION) == {
        "orchestrouter.tier": "small",
        "orchestrouter.model": "small-model",
        "orchestrouter.degraded": False,
        "orchestrouter.fallback": True,
        "orchestrouter.budget_limited": False,
    }
    assert decision_fields.metric_attributes(None) == {
        "orchestrouter.tier": "",
        "orchestrouter.model": "",
        "orchestrouter.degraded": False,
        "orchestrouter.fallback": False,
        "orchestrouter.budget_limited": False,
    }


def test_the_reply_carries_every_field_with_tiers_as_the_enum():
    pb = convert.decision_to_pb(DECISION)
    assert (pb.tier, pb.routed_tier) == (router_pb2.TIER_SMALL, router_pb2.TIER_PREMIUM)
    assert pb.attempts == 3 and pb.fell_back and pb.fallback_reason == "premium endpoint returned 503"
    assert pb.win_probability == 0.123456789 and pb.router_version == "v1"


def test_the_routed_tier_defaults_to_the_tier():
    assert Decision(tier="premium", model="m", win_probability=0.9, threshold=0.2).routed_tier == "premium"
