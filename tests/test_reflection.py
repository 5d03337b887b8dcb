"""Server reflection: off by default; when ORCHESTROUTER_REFLECTION is on, v1 and v1alpha both list the
services and describe them (the v1alpha client of grpcio-reflection, a v1 client, and `buf curl`)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from orchestrouter.runtime.reflection import V1_FILE, V1_SERVICE, v1_file_descriptor

BUF = ("npx", "--yes", "@bufbuild/buf@1.75.0")


def services(port: int) -> set[str]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return set(ProtoReflectionDescriptorDatabase(channel).get_services())


def v1_messages() -> tuple[Any, Any]:
    """The v1 request and response classes, in a pool of their own (nothing shared with the server's)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(v1_file_descriptor())
    return (
        GetMessageClass(pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest")),
        GetMessageClass(pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse")),
    )


def ask_v1(port: int, **fields: str) -> Any:
    """One request on grpc.reflection.v1.ServerReflection/ServerReflectionInfo; returns the reply."""
    request_type, response_type = v1_messages()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        info = channel.stream_stream(
            f"/{V1_SERVICE}/ServerReflectionInfo",
            request_serializer=request_type.SerializeToString,
            response_deserializer=response_type.FromString,
        )
        return next(iter(info(iter([request_type(**fields)]), timeout=10)))


def test_reflection_v1alpha_lists_the_scorer_service_when_enabled(scorer_factory, random_model):
    s = scorer_factory(random_model, reflection=True)
    assert {"orchestrouter.v1.ScorerService", "grpc.health.v1.Health", V1_SERVICE} <= services(s.port)


def test_reflection_v1_lists_and_describes_the_router_service(pair, random_model):
    p = pair(random_model, reflection=True)
    listed = ask_v1(p.router.port, list_services="")
    names = {s.name for s in listed.list_services_response.service}
    assert {"orchestrouter.v1.RouterService", "grpc.health.v1.Health", V1_SERVICE} <= names

    described = ask_v1(p.router.port, file_containing_symbol="orchestrouter.v1.RouterService")
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in described.file_descriptor_response.file_descriptor_proto
    ]
    assert "Route" in {m.name for f in files for s in f.service for m in s.method}

    # Reflection about reflection v1 itself: a proper grpc.reflection.v1 file, not v1alpha's.
    own = ask_v1(p.router.port, file_containing_symbol=V1_SERVICE)
    (raw,) = own.file_descriptor_response.file_descriptor_proto
    own_file = descriptor_pb2.FileDescriptorProto.FromString(raw)
    assert (own_file.name, own_file.package) == (V1_FILE, "grpc.reflection.v1")
    assert own_file.service[0].method[0].input_type == ".grpc.reflection.v1.ServerReflectionRequest"


def test_reflection_is_off_by_default(scorer_factory, random_model):
    s = scorer_factory(random_model)
    with pytest.raises(grpc.RpcError) as err:
        services(s.port)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as err:
        ask_v1(s.port, list_services="")
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def buf_curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", "grpc-v1", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_buf_curl_lists_services_and_routes_over_reflection_v1(pair, random_model):
    p = pair(random_model, reflection=True)
    base = f"http://127.0.0.1:{p.router.port}"

    listed = buf_curl("--list-services", base)
    assert listed.returncode == 0, listed.stderr
    assert "orchestrouter.v1.RouterService" in listed.stdout.split()

    body = json.dumps({"messages": [{"role": "user", "content": "What is six times seven?"}], "dryRun": True})
    routed = buf_curl("-d", body, f"{base}/orchestrouter.v1.RouterService/Route")
    assert routed.returncode == 0, routed.stderr
    decision = json.loads(routed.stdout)["decision"]
    assert decision["tier"] in ("TIER_SMALL", "TIER_PREMIUM")
    assert 0.0 <= decision["winProbability"] <= 1.0
