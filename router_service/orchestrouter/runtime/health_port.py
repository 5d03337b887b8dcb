"""health_port: an optional second, plaintext port that serves only the gRPC health service.

Kubernetes' native gRPC probes dial in plaintext and cannot present or verify certificates, so
they cannot check a TLS port; ORCHESTROUTER_HEALTH_LISTEN gives them this port instead. It serves
nothing but grpc.health.v1.Health (the same statuses as the main port), which tells a caller no
more than a probe would.
"""

from __future__ import annotations

from collections.abc import Mapping

from grpc import aio
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from orchestrouter.runtime.envparse import env_listen
from orchestrouter.runtime.settings import describe

HEALTH_LISTEN_HELP = "a plaintext address serving only the health service, for probes that cannot dial TLS"


def env_health_listen(env: Mapping[str, str]) -> str:
    """ORCHESTROUTER_HEALTH_LISTEN: the health-only address (host:port or unix:PATH), or "" for none."""
    describe(env, "ORCHESTROUTER_HEALTH_LISTEN", "", HEALTH_LISTEN_HELP)
    if not env.get("ORCHESTROUTER_HEALTH_LISTEN", "").strip():
        return ""
    return env_listen(env, "ORCHESTROUTER_HEALTH_LISTEN", "")


async def start_health_server(
    servicer: HealthServicer, listen: str, reuse_port: bool = False
) -> tuple[aio.Server, int]:
    """Starts a plaintext server for servicer on listen (shared with other processes when reuse_port);
    returns it and its port.

    Raises RuntimeError (grpcio's, for a failed bind) or returns port 0 when the bind failed.
    """
    server = aio.server(options=[("grpc.so_reuseport", int(reuse_port))])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port(listen)
    await server.start()
    return server, port
