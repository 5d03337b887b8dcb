"""Server reflection under both names clients ask for: grpc.reflection.v1 and grpc.reflection.v1alpha.

grpcio-reflection implements only v1alpha, while current tools (``buf curl``, grpcurl, Postman) ask
for v1 first. The two protocols are the same messages under another package name, so one servicer
answers both: v1 is registered with a descriptor built from v1alpha's, renamed, so that a client asking
reflection about reflection itself gets a proper ``grpc.reflection.v1`` file.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc import aio
from grpc_reflection.v1alpha import reflection, reflection_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

V1ALPHA_SERVICE = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_FILE = "grpc/reflection/v1/reflection.proto"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"


def v1_file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """grpc/reflection/v1/reflection.proto: v1alpha's file under v1's package and file name."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old_prefix = f".{proto.package}."
    proto.name, proto.package = V1_FILE, V1_PACKAGE
    proto.options.Clear()
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old_prefix):
                field.type_name = f".{V1_PACKAGE}.{field.type_name.removeprefix(old_prefix)}"
    for service in proto.service:
        for method in service.method:
            method.input_type = f".{V1_PACKAGE}.{method.input_type.removeprefix(old_prefix)}"
            method.output_type = f".{V1_PACKAGE}.{method.output_type.removeprefix(old_prefix)}"
    return proto


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindFileByName(V1_FILE)
    except KeyError:
        pool.Add(v1_file_descriptor())


def enable_reflection(server: aio.Server, service_names: Sequence[str]) -> None:
    """Serves reflection v1 and v1alpha on server, listing service_names and both reflection services."""
    pool = descriptor_pool.Default()
    _add_v1_descriptor(pool)
    servicer = ReflectionServicer((*service_names, V1_SERVICE, V1ALPHA_SERVICE), pool=pool)
    # The wire format is identical, so v1 requests parse as v1alpha messages and v1alpha replies serialise as v1.
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    for service in (V1_SERVICE, V1ALPHA_SERVICE):
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": handler}),)
        )
