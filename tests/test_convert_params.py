"""convert.params_from_pb: a request that sets no generation parameter shares the default instance;
one that sets any gets exactly what it set."""

from __future__ import annotations

from orchestrouter.router import convert
from orchestrouter.router.model import GenerationParams
from orchestrouter.v1 import router_pb2


def test_no_parameter_set_is_the_default_params():
    params = convert.params_from_pb(router_pb2.GenerationParams())
    assert params == GenerationParams()
    assert params is convert.params_from_pb(router_pb2.RouteRequest().params), "shared, not rebuilt"


def test_any_parameter_set_is_converted():
    assert convert.params_from_pb(router_pb2.GenerationParams(temperature=0.0)) == GenerationParams(temperature=0.0)
    assert convert.params_from_pb(router_pb2.GenerationParams(user="u")) == GenerationParams(user="u")
    converted = convert.params_from_pb(router_pb2.GenerationParams(stop=["x"], logit_bias={"1": 2.0}))
    assert (converted.stop, dict(converted.logit_bias)) == (("x",), {"1": 2.0})
