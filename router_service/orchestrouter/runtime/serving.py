"""gRPC server bootstrap shared by both services: health, reflection, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from orchestrouter.runtime import telemetry
from orchestrouter.runtime.errors import ErrorMappingInterceptor

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

# Large enough for a batch of 4,096 embeddings of 1,536 float32 values, with headroom.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class Health:
    """Health: the standard grpc.health.v1 service for the whole server and its services."""

    def __init__(self, service_names: Sequence[str]) -> None:
        self.servicer = HealthServicer()
        self._names = ("", *service_names)

    async def set(self, status: int) -> None:
        for name in self._names:
            await self.servicer.set(name, status)

    async def drain(self) -> None:
        await self.servicer.enter_graceful_shutdown()


def new_server(interceptors: Iterable[aio.ServerInterceptor] = ()) -> aio.Server:
    # Tracing goes outermost, so the server span sees the status the error mapping sets.
    return aio.server(
        interceptors=[*telemetry.grpc_server_interceptors(), ErrorMappingInterceptor(), *interceptors],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )


def add_health_and_reflection(
    server: aio.Server, health: Health, full_names: Sequence[str], enable_reflection: bool
) -> None:
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    if enable_reflection:
        names = (*full_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)


class BindError(RuntimeError):
    """The listen address cannot be bound (malformed, in use, or a socket folder that is missing)."""


def bind(server: aio.Server, listen: str) -> int:
    """Binds the listen address (host:port, port 0 for any, or unix:PATH); returns the port."""
    try:
        port = server.add_insecure_port(listen)
    except RuntimeError as exc:  # grpcio raises a bare RuntimeError for a failed bind
        raise BindError(f"cannot listen on {listen!r}: address malformed or in use") from exc
    if port == 0 and not listen.startswith("unix:"):
        raise BindError(f"cannot listen on {listen!r}: address malformed or in use")
    return port


async def wait_for_termination_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def drain(server: aio.Server, health: Health, grace_seconds: float) -> None:
    """NOT_SERVING first, so load balancers stop sending, then let in-flight calls finish."""
    log.info("draining for up to %.1fs", grace_seconds)
    await health.drain()
    await server.stop(grace_seconds)


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_main(
    service_name: str, serve: Callable[[], Awaitable[None]], startup_errors: tuple[type[Exception], ...]
) -> None:
    """A service's main(): telemetry, serve() until SIGTERM has drained it, then flush telemetry.

    A configuration or model problem (one of startup_errors) ends the process with one clear
    line and exit code 2, never a stack trace.
    """
    configure_logging()
    tel = None
    try:
        tel = telemetry.setup(service_name)
        asyncio.run(serve())
    except (*startup_errors, BindError, telemetry.TelemetryConfigError) as exc:
        log.error("cannot start: %s", exc)
        sys.exit(2)
    finally:
        # serve() has drained by now, so the last requests' spans are in what is flushed.
        if tel is not None:
            tel.shutdown()
