"""tls: TLS for both services: server credentials read from files and re-read when they change,
the caller's name from a verified client certificate (mTLS), and channel credentials for a
service that calls another one (the router's scorer channel).

A server certificate and key (PEM) turn TLS on; a client CA file on top of them turns on mTLS:
every caller must present a certificate that CA signed. Rotation: gRPC asks ``ReloadingCertificates``
before each new connection's handshake; when the files' stat changed it re-reads them and, when
the new pair parses, serves it to new connections (established ones keep theirs). A pair that
does not parse (a half-written file, a key that is not the certificate's) is logged once and the
last good pair kept. A ``unix:`` listen address stays insecure: only processes in the same pod
(or on the same machine, with access to the socket file) reach it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import grpc

from orchestrouter.runtime.config import ConfigError, EnvConfig, require
from orchestrouter.runtime.envparse import env_str

log = logging.getLogger(__name__)


class TLSFilesError(ConfigError):
    """A certificate, key or CA file cannot be read or does not parse; the message names it."""


@dataclass(frozen=True)
class ServerTLSConfig(EnvConfig):
    """ServerTLSConfig: the server certificate and key files (TLS on when set) and the client CA
    file (mTLS on when set), from ORCHESTROUTER_TLS_CERT_FILE, _KEY_FILE and _CLIENT_CA_FILE."""

    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file)

    @property
    def mutual(self) -> bool:
        return bool(self.client_ca_file)

    def __post_init__(self) -> None:
        require(
            bool(self.cert_file) == bool(self.key_file),
            "ORCHESTROUTER_TLS_CERT_FILE and ORCHESTROUTER_TLS_KEY_FILE must be set together",
        )
        require(
            not self.client_ca_file or self.enabled,
            "ORCHESTROUTER_TLS_CLIENT_CA_FILE (mTLS) needs ORCHESTROUTER_TLS_CERT_FILE and _KEY_FILE",
        )

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> ServerTLSConfig:
        return cls(
            cert_file=env_str(
                env, "ORCHESTROUTER_TLS_CERT_FILE", "", help="PEM server certificate; set with the key file: serve TLS"
            ).strip(),
            key_file=env_str(
                env, "ORCHESTROUTER_TLS_KEY_FILE", "", help="PEM key of ORCHESTROUTER_TLS_CERT_FILE"
            ).strip(),
            client_ca_file=env_str(
                env,
                "ORCHESTROUTER_TLS_CLIENT_CA_FILE",
                "",
                help="PEM CA of the client certificates callers must present (mTLS)",
            ).strip(),
        )


@dataclass(frozen=True)
class CertificatePair:
    """CertificatePair: the PEM bytes one handshake is served with (and the client CA, for mTLS)."""

    cert: bytes
    key: bytes
    client_ca: bytes | None

    def grpc_configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(self.key, self.cert)], root_certificates=self.client_ca)

    def ssl_context(self) -> ssl.SSLContext:
        """The pair as a server SSLContext (the router's HTTP port); with a client CA, client certificates
        are required, as on the gRPC port."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with _private_path(self.cert) as cert_path, _private_path(self.key) as key_path:
            context.load_cert_chain(cert_path, key_path)
        if self.client_ca is not None:
            context.load_verify_locations(cadata=self.client_ca.decode("ascii"))
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TLSFilesError(f"{what}: cannot read {path} ({exc.strerror})") from None


@contextlib.contextmanager
def _private_path(data: bytes) -> Iterator[str]:
    """A path holding data that only this process can read (ssl loads keys from paths only)."""
    if hasattr(os, "memfd_create"):  # Linux: in memory, never on a disk
        fd = os.memfd_create("orchestrouter-tls")
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile() as f:  # created 0600
        f.write(data)
        f.flush()
        yield f.name


def check_pair(config: ServerTLSConfig, cert: bytes, key: bytes, client_ca: bytes | None) -> None:
    """Raises TLSFilesError unless cert is PEM, key is its private key and client_ca holds a CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        with _private_path(cert) as cert_path, _private_path(key) as key_path:
            context.load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError) as exc:
        raise TLSFilesError(
            f"ORCHESTROUTER_TLS_CERT_FILE {config.cert_file} and ORCHESTROUTER_TLS_KEY_FILE {config.key_file}: "
            f"not a PEM certificate and its private key ({exc.__class__.__name__})"
        ) from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cadata=client_ca.decode("ascii"))
        except (ssl.SSLError, ValueError) as exc:
            raise TLSFilesError(
                f"ORCHESTROUTER_TLS_CLIENT_CA_FILE {config.client_ca_file}: no PEM CA certificate "
                f"({exc.__class__.__name__})"
            ) from None


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)  # follows the symlinks a Kubernetes Secret volume swaps
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ReloadingCertificates:
    """ReloadingCertificates: the server's certificate pair, re-read from its files when they change.

    ``fetch()`` is gRPC's certificate configuration fetcher, called before each new connection's
    handshake: None keeps what is served, a configuration replaces it. It only stats the files
    unless one changed; it never raises (gRPC would only log it) and logs a bad pair once per change.
    """

    def __init__(self, config: ServerTLSConfig) -> None:
        self.config = config
        self._paths = [p for p in (config.cert_file, config.key_file, config.client_ca_file) if p]
        self._stamps = self._current_stamps()
        self.current = self.load()

    def _current_stamps(self) -> list[tuple[int, int, int] | None]:
        return [_stamp(p) for p in self._paths]

    def load(self) -> CertificatePair:
        """Reads and checks the files; TLSFilesError says what is wrong."""
        c = self.config
        cert = _read(c.cert_file, "ORCHESTROUTER_TLS_CERT_FILE")
        key = _read(c.key_file, "ORCHESTROUTER_TLS_KEY_FILE")
        client_ca = _read(c.client_ca_file, "ORCHESTROUTER_TLS_CLIENT_CA_FILE") if c.client_ca_file else None
        check_pair(c, cert, key, client_ca)
        return CertificatePair(cert, key, client_ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            stamps = self._current_stamps()
            if stamps == self._stamps:
                return None
            self._stamps = stamps
            pair = self.load()
        except TLSFilesError as exc:
            # Logged once per change of the files: the stamps are taken, so until the next change
            # every handshake keeps the previous pair without reading again.
            log.warning("TLS certificate not reloaded, still serving the previous one: %s", exc)
            return None
        except Exception:  # never into gRPC's handshake path
            log.exception("TLS certificate reload failed; still serving the previous certificate")
            return None
        if pair == self.current:
            return None
        self.current = pair
        log.info("TLS certificate reloaded from %s", self.config.cert_file)
        return pair.grpc_configuration()

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that serve the current pair and pick up rotated files."""
        # gRPC's stubs omit it, but a fetcher returning None means "unchanged".
        fetch = cast(Callable[[], grpc.ServerCertificateConfiguration], self.fetch)
        return grpc.dynamic_ssl_server_credentials(
            self.current.grpc_configuration(), fetch, require_client_authentication=self.config.mutual
        )


def peer_identity(context: grpc.ServicerContext | grpc.aio.ServicerContext) -> str | None:
    """peer_identity: the caller's name from its verified client certificate (mTLS): the subject
    common name, else the first subject alternative name; None without a verified certificate."""
    auth = cast(Mapping[str, Sequence[bytes]], context.auth_context() or {})
    if auth.get("transport_security_type") != [b"ssl"]:
        return None
    for key in ("x509_common_name", "x509_subject_alternative_name"):
        for value in auth.get(key, ()):
            name = value.decode("utf-8", "replace").strip()
            if name:
                return name
    return None


@dataclass(frozen=True)
class ChannelTLSConfig:
    """ChannelTLSConfig: how a service dials another over TLS: the trust roots (TLS on when set),
    an optional client certificate and key (for a peer that requires mTLS) and an optional name
    to expect in the peer's certificate instead of the target's host."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    # The variables' common prefix, for error messages.
    prefix: str = field(default="ORCHESTROUTER_SCORER_TLS_", repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.ca_file)

    def __post_init__(self) -> None:
        prefix = self.prefix
        require(
            bool(self.cert_file) == bool(self.key_file), f"{prefix}CERT_FILE and {prefix}KEY_FILE must be set together"
        )
        require(
            self.enabled or not (self.cert_file or self.server_name),
            f"{prefix}CERT_FILE, _KEY_FILE and _SERVER_NAME need {prefix}CA_FILE",
        )

    def credentials(self) -> grpc.ChannelCredentials:
        """Channel credentials from the files, checked (read once: new files need a restart)."""
        p = self.prefix
        ca = _read(self.ca_file, p + "CA_FILE")
        try:
            ssl.create_default_context(cadata=ca.decode("ascii"))
        except (ssl.SSLError, ValueError) as exc:
            raise TLSFilesError(
                f"{p}CA_FILE {self.ca_file}: no PEM CA certificate ({exc.__class__.__name__})"
            ) from None
        cert = key = None
        if self.cert_file:
            cert, key = _read(self.cert_file, p + "CERT_FILE"), _read(self.key_file, p + "KEY_FILE")
            try:
                with _private_path(cert) as cert_path, _private_path(key) as key_path:
                    ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert_path, key_path)
            except (ssl.SSLError, OSError) as exc:
                raise TLSFilesError(
                    f"{p}CERT_FILE {self.cert_file} and {p}KEY_FILE {self.key_file}: not a PEM certificate "
                    f"and its private key ({exc.__class__.__name__})"
                ) from None
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)

    def options(self) -> list[tuple[str, str]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def open_channel(
    target: str, tls: ChannelTLSConfig, options: list[tuple[str, int | str]], interceptors=None
) -> grpc.aio.Channel:
    """An aio channel to target: TLS when tls is enabled and target is not a unix socket."""
    if tls.enabled and not target.startswith("unix:"):
        return grpc.aio.secure_channel(target, tls.credentials(), [*options, *tls.options()], interceptors=interceptors)
    return grpc.aio.insecure_channel(target, options, interceptors=interceptors)
