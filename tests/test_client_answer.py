"""RouteAnswer: every field the proto defines, read from its descriptors; enums by name."""

from __future__ import annotations

import pytest

from orchestrouter.client import RouteAnswer
from orchestrouter.v1 import router_pb2


def _response() -> router_pb2.RouteResponse:
    return router_pb2.RouteResponse(
        decision=router_pb2.Decision(
            tier=router_pb2.TIER_PREMIUM,
            routed_tier=router_pb2.TIER_SMALL,
            model="big",
            win_probability=0.75,
            threshold=0.2,
            router_id="mf",
            router_version="7",
            fell_back=True,
            attempts=2,
        ),
        answer="42",
        request_id="abc",
        usage=router_pb2.Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8, cost_usd=0.01),
        timings=router_pb2.HopTimings(embed_ms=1.0, score_ms=2.0, dispatch_ms=3.0, total_ms=6.5),
    )


def test_the_decision_s_fields_are_attributes_with_enums_by_name():
    answer = RouteAnswer.from_pb(_response())
    assert (answer.tier, answer.routed_tier, answer.model) == ("premium", "small", "big")
    assert (answer.win_probability, answer.threshold, answer.fell_back, answer.attempts) == (0.75, 0.2, True, 2)
    assert (answer.answer, answer.request_id) == ("42", "abc")
    assert answer.timings_ms == {"embed": 1.0, "score": 2.0, "dispatch": 3.0, "total": 6.5}
    assert answer.usage == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8, "cost_usd": 0.01}
    assert answer.decision.tier == router_pb2.TIER_PREMIUM
    with pytest.raises(AttributeError):
        _ = answer.no_such_field


def test_to_dict_holds_every_field_the_proto_defines():
    fields = RouteAnswer(_response()).to_dict()
    reply_fields = {f.name for f in router_pb2.RouteResponse.DESCRIPTOR.fields} - {"decision", "timings"}
    assert {f.name for f in router_pb2.Decision.DESCRIPTOR.fields} | reply_fields | {"timings_ms"} == fields.keys()
    assert RouteAnswer(router_pb2.RouteResponse()).tier == "unspecified"
