"""Server reflection: off by default, lists the services when ORCHESTROUTER_REFLECTION is on."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def services(port: int) -> set[str]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return set(ProtoReflectionDescriptorDatabase(channel).get_services())


def test_reflection_lists_the_scorer_service_when_enabled(scorer_factory, random_model):
    s = scorer_factory(random_model, reflection=True)
    assert {"orchestrouter.v1.ScorerService", "grpc.health.v1.Health"} <= services(s.port)


def test_reflection_is_off_by_default(scorer_factory, random_model):
    s = scorer_factory(random_model)
    with pytest.raises(grpc.RpcError) as err:
        services(s.port)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
