"""Connection: what every client holds (its options, a channel, the stub, each call's deadline and metadata).

The synchronous and asyncio clients subclass it and only say how a channel is opened and closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import grpc

from orchestrouter.client.options import ClientOptions, RetryPolicy

StubT = TypeVar("StubT")
ChannelT = TypeVar("ChannelT")

DEFAULT_RETRY = RetryPolicy()


class Connection(Generic[ChannelT, StubT]):
    """Connection: a channel to one service, configured by a ClientOptions.

    Pass a ClientOptions, or a target (host:port) and its settings as keywords (see ClientOptions:
    timeout_s, token, metadata, tls_ca_file, tls_cert_file, tls_key_file, credentials, retry).
    """

    # The proto service's full name (the retry policy applies to its methods) and its stub class.
    service: ClassVar[str]
    _stub_type: Callable[[Any], StubT]
    # Each call's deadline when the options set none.
    default_timeout_s: ClassVar[float]

    def __init__(
        self,
        target: str | ClientOptions,
        timeout_s: float | None = None,
        token: str | None = None,
        *,
        metadata: Sequence[tuple[str, str]] = (),
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
    ) -> None:
        if isinstance(target, ClientOptions):
            settings = (timeout_s, token, tls_ca_file, tls_cert_file, tls_key_file, credentials)
            if any(s is not None for s in settings) or metadata or retry is not DEFAULT_RETRY:
                raise TypeError("pass either a ClientOptions or a target with its settings, not both")
            options = target
        else:
            options = ClientOptions(
                target,
                timeout_s=timeout_s,
                token=token,
                metadata=metadata,
                tls_ca_file=tls_ca_file,
                tls_cert_file=tls_cert_file,
                tls_key_file=tls_key_file,
                credentials=credentials,
                retry=retry,
            )
        self.options = options
        self._timeout_s = self.default_timeout_s if options.timeout_s is None else options.timeout_s
        self._metadata = options.call_metadata()
        self._channel = self._open_channel(
            options.target, options.channel_credentials(), options.channel_options(self.service)
        )
        self._stub = type(self)._stub_type(self._channel)

    def _open_channel(
        self, target: str, credentials: grpc.ChannelCredentials | None, channel_options: list[tuple[str, Any]]
    ) -> ChannelT:
        raise NotImplementedError
