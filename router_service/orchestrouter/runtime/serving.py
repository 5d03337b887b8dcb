"""The serving shape both services share: ServiceServer (health, bind, ready, drain), serve() until
SIGTERM, and run_main() for a process."""

from __future__ import annotations

import abc
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Protocol, Self

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from orchestrouter.runtime import redaction, reflection, telemetry
from orchestrouter.runtime.auth import TOKENS_FILE_VARIABLE as TOKENS_FILE
from orchestrouter.runtime.auth import (
    AuthFileError,
    AuthInterceptor,
    CertificateCallerInterceptor,
    TokenSet,
    load_token_set,
)
from orchestrouter.runtime.config import require_authenticated_or_local
from orchestrouter.runtime.errors import ErrorMappingInterceptor
from orchestrouter.runtime.health_port import start_health_server
from orchestrouter.runtime.tls import ReloadingCertificates, ServerTLSConfig

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


def new_server(
    interceptors: Iterable[aio.ServerInterceptor] = (),
    max_receive_bytes: int = MAX_MESSAGE_BYTES,
    reuse_port: bool = False,
) -> aio.Server:
    """A grpc.aio server; a request over max_receive_bytes gets RESOURCE_EXHAUSTED from gRPC itself.

    Without reuse_port a port another process holds is refused (BindError); with it, several
    processes of one service share the port and the kernel spreads connections over them.
    """
    # Tracing goes outermost, so the server span sees the status the error mapping sets.
    return aio.server(
        interceptors=[*telemetry.grpc_server_interceptors(), ErrorMappingInterceptor(), *interceptors],
        options=[
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", int(reuse_port)),
        ],
    )


def add_health_and_reflection(
    server: aio.Server, health: Health, full_names: Sequence[str], enable_reflection: bool
) -> None:
    health_pb2_grpc.add_HealthServicer_to_server(health.servicer, server)
    if enable_reflection:
        reflection.enable_reflection(server, (*full_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name))


class BindError(RuntimeError):
    """The listen address cannot be bound (malformed, in use, or a socket folder that is missing)."""


def bind(server: aio.Server, listen: str, credentials: grpc.ServerCredentials | None = None) -> int:
    """Binds the listen address (host:port, port 0 for any, or unix:PATH); returns the port.

    With credentials a TCP address serves TLS; a unix socket stays plaintext (same pod or machine).
    """
    try:
        if credentials is not None and not listen.startswith("unix:"):
            port = server.add_secure_port(listen, credentials)
        else:
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


def local_target(listen: str, port: int) -> str:
    """The address a client on this machine dials to reach a server bound to listen and port."""
    if listen.startswith("unix:"):
        return listen
    host = listen.rpartition(":")[0].strip("[]")
    if host in ("", "0.0.0.0", "::"):  # every interface: loopback reaches it
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ServingSettings(Protocol):
    """ServingSettings: what the shared serving shape reads from a service's configuration (both
    RouterConfig and ScorerConfig have these fields, read from the same variables)."""

    @property
    def listen(self) -> str: ...
    @property
    def reflection(self) -> bool: ...
    @property
    def grace_seconds(self) -> float: ...
    @property
    def tls(self) -> ServerTLSConfig: ...
    @property
    def health_listen(self) -> str: ...
    @property
    def auth_tokens_file(self) -> str: ...
    @property
    def auth_recheck_s(self) -> float: ...
    @property
    def allow_unauthenticated(self) -> bool: ...
    @property
    def max_request_bytes(self) -> int: ...


class ServiceServer(abc.ABC):
    """ServiceServer: one service's gRPC server from bind to drain, the same shape for both services.

    ``await server.start()`` is the one call that starts it: health NOT_SERVING, bind, start,
    get ready (the scorer loads its model, the router connects to its scorer), SERVING. A caller
    that must see NOT_SERVING first starts with ``ready=False`` and later calls ``become_ready()``.
    ``close()`` drains it; ``async with`` starts it on entry (unless started) and drains it on exit.
    A subclass supplies what differs: its servicer, how it gets ready and what it releases.
    """

    # The proto service's full name, for health and reflection; the role names it in log lines.
    service_name: ClassVar[str]
    role: ClassVar[str]

    def __init__(self, settings: ServingSettings) -> None:
        self.listen = settings.listen
        self.reflection = settings.reflection
        self.grace_seconds = settings.grace_seconds
        # TLS on the listen address, and a plaintext health-only address for probes ("" for none).
        self.tls = settings.tls
        self.health_listen = settings.health_listen
        # The bearer tokens callers must present (runtime.auth); None leaves the service open.
        self.auth: TokenSet | None = load_token_set(settings.auth_tokens_file, settings.auth_recheck_s)
        # Serve without authentication on an address other hosts reach (ORCHESTROUTER_ALLOW_UNAUTHENTICATED).
        self.allow_unauthenticated = settings.allow_unauthenticated
        # The largest request the service receives (RESOURCE_EXHAUSTED above).
        self.max_request_bytes = settings.max_request_bytes
        self.health = Health([self.service_name])
        self.port = 0
        self._server: aio.Server | None = None
        self.health_port = 0
        self._health_server: aio.Server | None = None
        self._closed = False
        # Set by a service that runs as several processes on one port (the router's workers).
        self.reuse_port = False

    @property
    def target(self) -> str:
        """The address a client on this machine dials (host:port, or the unix socket)."""
        return local_target(self.listen, self.port)

    async def start(self, ready: bool = True) -> Self:
        """Binds and starts the server, then (unless ready=False) gets it ready and reports SERVING.

        A failure on the way closes what was started and raises; the health stays NOT_SERVING.
        """
        if self._server is not None:
            raise RuntimeError(f"the {self.role} server is already started")
        await self.health.set(NOT_SERVING)
        server = new_server(self._auth_interceptors(), self.max_request_bytes, self.reuse_port)
        self._register(server)
        self._server = server
        try:
            require_authenticated_or_local(
                self.listen, self.auth is not None or self.tls.mutual, self.allow_unauthenticated
            )
            add_health_and_reflection(server, self.health, [self.service_name], self.reflection)
            self.port = bind(server, self.listen, self._server_credentials())
            await server.start()
            log.info("%s listening on %s (port %d)", self.role, self.listen, self.port)
            await self._start_health_port()
            if ready:
                await self.become_ready()
        except BaseException:
            await self.close(0)
            raise
        return self

    def _server_credentials(self) -> grpc.ServerCredentials | None:
        if not self.tls.enabled:
            log.info("%s: TLS off (ORCHESTROUTER_TLS_CERT_FILE unset): %s is plaintext", self.role, self.listen)
            return None
        if self.listen.startswith("unix:"):
            log.info("%s: TLS not used on the unix socket %s (reachable from this pod only)", self.role, self.listen)
            return None
        certificates = ReloadingCertificates(self.tls)
        log.info(
            "%s: TLS on with %s%s (reloaded when the files change)",
            self.role,
            self.tls.cert_file,
            ", client certificates required (mTLS)" if self.tls.mutual else "",
        )
        return certificates.credentials()

    async def _start_health_port(self) -> None:
        if not self.health_listen:
            return
        try:
            self._health_server, self.health_port = await start_health_server(
                self.health.servicer, self.health_listen, self.reuse_port
            )
        except RuntimeError as exc:
            raise BindError(f"cannot listen on {self.health_listen!r}: address malformed or in use") from exc
        if self.health_port == 0 and not self.health_listen.startswith("unix:"):
            raise BindError(f"cannot listen on {self.health_listen!r}: address malformed or in use")
        log.info("%s health-only plaintext port %d on %s", self.role, self.health_port, self.health_listen)

    def _auth_interceptors(self) -> list[aio.ServerInterceptor]:
        if self.auth is None and self.tls.mutual:
            log.info("%s: callers named by their client certificates (mTLS, no token file)", self.role)
            return [CertificateCallerInterceptor()]
        if self.auth is None:
            log.info("%s: authentication is off (no %s): anyone who reaches the port may call", self.role, TOKENS_FILE)
            return []
        log.info("%s: bearer tokens required, from %s", self.role, self.auth.path)
        return [AuthInterceptor(self.auth)]

    async def become_ready(self) -> None:
        """Gets the started service ready to answer, then reports SERVING."""
        await self._get_ready()
        await self.health.set(SERVING)

    async def close(self, grace_seconds: float | None = None) -> None:
        """Drains (NOT_SERVING, in-flight calls finish within the grace, default the configured
        one), then releases what the service holds. Closing twice does nothing more."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            await drain(self._server, self.health, self.grace_seconds if grace_seconds is None else grace_seconds)
        if self._health_server is not None:
            await self._health_server.stop(0)
        await self._release()

    async def __aenter__(self) -> Self:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        # Leaving on an error does not wait for in-flight calls.
        await self.close(0 if exc_type is not None else None)

    @abc.abstractmethod
    def _register(self, server: aio.Server) -> None:
        """Builds what the service serves and adds its servicer to server."""

    @abc.abstractmethod
    async def _get_ready(self) -> None:
        """Does what the service needs before it can answer (load a model, reach a peer)."""

    @abc.abstractmethod
    async def _release(self) -> None:
        """Releases what _register built, once the server has drained (also after a failed start)."""


async def serve(server: ServiceServer) -> None:
    """Runs the server until SIGTERM or SIGINT, then drains it."""
    async with server:
        # What startup built (modules, the model, the embedder's tokenizer: 100,000+ objects) lives as
        # long as the process: out of the collector's sight, a full collection no longer walks it (about
        # 50 ms on a 2-core machine, a pause every request in flight would wait out).
        gc.freeze()
        await wait_for_termination_signal()


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx (under the openai embedder's client) logs every request it sends at INFO: at a router's
    # rate that is a line per request, and its cost on the event loop. Its warnings still show.
    for per_request in ("httpx", "httpx2"):
        logging.getLogger(per_request).setLevel(logging.WARNING)


def run_main(
    service_name: str, make_server: Callable[[], ServiceServer], startup_errors: tuple[type[Exception], ...]
) -> None:
    """A service's main(): telemetry, serve() the server make_server() builds until SIGTERM has
    drained it, then flush telemetry.

    A configuration or model problem (one of startup_errors) ends the process with one clear
    line and exit code 2, never a stack trace.
    """
    configure_logging()
    # Every log line of the process is masked and kept to one line, whatever a peer sent.
    redaction.install_log_filter()
    refusals: tuple[type[Exception], ...] = (
        *startup_errors,
        BindError,
        telemetry.TelemetryConfigError,
        AuthFileError,
    )
    tel = None
    try:
        tel = telemetry.setup(service_name)
        asyncio.run(serve(make_server()))
    except refusals as exc:
        log.error("cannot start: %s", exc)
        sys.exit(2)
    finally:
        # serve() has drained by now, so the last requests' spans are in what is flushed.
        if tel is not None:
            tel.shutdown()
