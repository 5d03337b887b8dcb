"""frontdoor: the HTTP front door's listener, from bind to drain, beside the router's gRPC server.

``ORCHESTROUTER_HTTP_LISTEN`` (host:port or unix:PATH, off when unset) names its address. The same
rule as gRPC holds: without a token file (or mTLS) it serves only a loopback address or a socket,
unless ORCHESTROUTER_ALLOW_UNAUTHENTICATED says something else guards the port. With the router's
TLS certificate it serves HTTPS on a TCP address (the certificate re-read when its files change,
as on the gRPC port). RouterServer starts it with the gRPC server and drains both on SIGTERM.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from orchestrouter.router.http.app import FrontDoorApp
from orchestrouter.runtime.config import require_authenticated_or_local
from orchestrouter.runtime.serving import BindError
from orchestrouter.runtime.throttled_log import ThrottledWarning, describe
from orchestrouter.runtime.tls import ReloadingCertificates, ServerTLSConfig

log = logging.getLogger(__name__)
# aiohttp's protocol handler logs here (it logs every request it cannot parse with a traceback).
protocol_log = logging.getLogger(__name__ + ".protocol")


class _MalformedHttpFilter(logging.Filter):
    """Turns aiohttp's traceback for a request it could not parse (bytes any client can send: a bad
    chunk size, a header over the limit) into one throttled warning, so they cannot flood the log."""

    def __init__(self) -> None:
        super().__init__()
        self.warn = ThrottledWarning(log, "router: malformed HTTP requests refused with 400")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            self.warn(describe(exc))
            return False
        return True


protocol_log.addFilter(_MalformedHttpFilter())


class FrontDoor:
    """FrontDoor: serves a FrontDoorApp on listen; ``start()`` binds, ``close()`` drains in-flight requests."""

    def __init__(
        self, app: FrontDoorApp, listen: str, tls: ServerTLSConfig, grace_seconds: float, reuse_port: bool = False
    ) -> None:
        self.app = app
        self.listen = listen
        # SO_REUSEPORT: the router's workers share the port (ORCHESTROUTER_ROUTER_WORKERS).
        self.reuse_port = reuse_port
        self.tls = tls
        self.port = 0
        # handler_cancellation: a caller that goes away cancels its request, as a cancelled gRPC call
        # does (the endpoint call stops; the decision log says cancelled).
        self._runner = web.AppRunner(
            app.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=grace_seconds,
            handler_cancellation=True,
            logger=protocol_log,
        )
        self._started = False

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_wanted else "http"

    @property
    def _ssl_wanted(self) -> bool:
        return self.tls.enabled and not self.listen.startswith("unix:")

    @property
    def base_url(self) -> str:
        """The OpenAI base URL a client on this machine uses (a TCP listen address only)."""
        host = self.listen.rpartition(":")[0].strip("[]")
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}/v1"

    async def start(self, authenticated: bool, allow_unauthenticated: bool) -> None:
        require_authenticated_or_local(self.listen, authenticated, allow_unauthenticated)
        context = _reloading_context(self.tls) if self._ssl_wanted else None
        await self._runner.setup()
        self._started = True
        site: web.BaseSite
        if self.listen.startswith("unix:"):
            site = web.UnixSite(self._runner, self.listen.removeprefix("unix:"))
        else:
            host, _, port = self.listen.rpartition(":")
            site = web.TCPSite(
                self._runner,
                host.strip("[]") or None,
                int(port),
                ssl_context=context,
                reuse_port=self.reuse_port or None,
            )
        try:
            await site.start()
        except OSError as exc:
            raise BindError(
                f"cannot listen on {self.listen!r}: {exc.strerror or 'address malformed or in use'}"
            ) from exc
        server: Any = site._server  # aiohttp keeps the asyncio Server private; its socket says the port
        if not self.listen.startswith("unix:"):
            self.port = server.sockets[0].getsockname()[1]
        log.info("router: OpenAI-compatible HTTP%s on %s (port %d)", "S" if context else "", self.listen, self.port)

    async def close(self) -> None:
        """Stops listening, lets in-flight requests finish within the grace period, then closes."""
        if self._started:
            self._started = False
            await self._runner.cleanup()


def _reloading_context(tls: ServerTLSConfig) -> ssl.SSLContext:
    """An SSLContext serving the current certificate; each handshake checks the files, and a new
    pair is served from then on (a bad one keeps the previous pair: ReloadingCertificates.fetch)."""
    certificates = ReloadingCertificates(tls)
    contexts = {"current": certificates.current.ssl_context()}

    def pick(sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        if certificates.fetch() is not None:
            contexts["current"] = certificates.current.ssl_context()
        if sock.context is not contexts["current"]:
            sock.context = contexts["current"]

    outer = certificates.current.ssl_context()
    outer.sni_callback = pick
    return outer
