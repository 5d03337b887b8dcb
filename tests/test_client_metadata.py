"""The typed clients send the caller's metadata (and the token) with every call."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from orchestrouter.client import RouterClient
from orchestrouter.client.options import call_metadata
from orchestrouter.v1 import router_pb2


def test_metadata_and_token_travel_together_keys_lower_case():
    assert call_metadata(None) is None
    assert call_metadata("tok-0123456789abcdef", [("X-Tenant", "blue")]) == (
        ("x-tenant", "blue"),
        ("authorization", "Bearer tok-0123456789abcdef"),
    )
    with pytest.raises(ValueError, match="token="):
        call_metadata(None, [("Authorization", "Bearer x")])


@pytest.fixture
def echo_router():
    """A gRPC server answering Route with the metadata it received, as the answer text."""

    def route(request: router_pb2.RouteRequest, context: grpc.ServicerContext) -> router_pb2.RouteResponse:
        pairs = [(key, value) for key, value in context.invocation_metadata()]
        seen = sorted(f"{key}={value!s}" for key, value in pairs if key.startswith(("x-", "auth")))
        return router_pb2.RouteResponse(answer=";".join(seen), request_id="r")

    server = grpc.server(futures.ThreadPoolExecutor(2))
    handler = grpc.unary_unary_rpc_method_handler(
        route,
        request_deserializer=router_pb2.RouteRequest.FromString,
        response_serializer=router_pb2.RouteResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("orchestrouter.v1.RouterService", {"Route": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


def test_the_router_client_sends_its_metadata_on_each_call(echo_router):
    with RouterClient(echo_router, timeout_s=5, token="tok-0123456789abcdef", metadata=[("x-tenant", "blue")]) as c:
        for _ in range(2):
            assert c.route("hi").answer == "authorization=Bearer tok-0123456789abcdef;x-tenant=blue"
