"""EndpointClient: single calls to one tier's OpenAI-compatible chat endpoint over a pooled httpx client.

httpx directly rather than the `openai` client: dispatch needs the raw response for its own
policy (Retry-After, status classes, a stream that ended without finishing), a key that can
change between two calls, per-phase timeouts, and no hidden retries; the wire format it needs
is two small JSON shapes (see wire.py), and skipping the SDK's models saves CPU on every call.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence

import httpx

from orchestrouter.router.config import TierConfig
from orchestrouter.router.dispatch import failures, wire
from orchestrouter.router.dispatch.api_key import ApiKeySource
from orchestrouter.router.dispatch.failures import FailureKind, UpstreamFailure
from orchestrouter.router.model import ChatTurn, GenerationParams
from orchestrouter.runtime.redaction import register_secrets


def _tls_verify(config: TierConfig) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=config.ca_bundle) if config.ca_bundle else True


class EndpointClient:
    """EndpointClient: one pooled connection set per endpoint; each method is one call, no retries.

    Failures come out as UpstreamFailure. The client's httpx transport is the standard one, so
    OpenTelemetry's HTTPXClientInstrumentor (which patches the transport class) traces every call
    whenever it is instrumented, before or after this client exists.
    """

    def __init__(
        self, config: TierConfig, key: ApiKeySource, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.key = key
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self._registered_key = ""
        self.http = httpx.AsyncClient(
            # Phase deadlines are enforced by the caller with asyncio timeouts; httpx bounds connecting.
            timeout=httpx.Timeout(None, connect=config.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency
            ),
            verify=_tls_verify(config),
            transport=transport,
        )

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        key = self.key.current()
        if key:
            self._register_key(key)
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _register_key(self, key: str) -> None:
        # A key read from a (rotated) file is masked wherever it could surface, like a configured one.
        if key != self._registered_key:
            register_secrets(key)
            self._registered_key = key

    async def complete(
        self, messages: Sequence[ChatTurn], params: GenerationParams, timeout_s: float
    ) -> wire.WireAnswer:
        """One non-streamed call, bounded by timeout_s from sending to the last byte."""
        tier = self.config.tier
        body = wire.request_body(self.config.model, messages, params, stream=False)
        try:
            async with asyncio.timeout(timeout_s):
                response = await self.http.post(self.url, content=body, headers=self._headers(False))
        except (TimeoutError, httpx.TransportError) as exc:
            raise failures.from_exception(tier, exc, timeout_s) from None
        if response.status_code != 200:
            raise self._status_failure(response)
        try:
            return wire.parse_answer(response.content, self.config.model)
        except wire.MalformedAnswer as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, tier, f"{tier} endpoint answered {exc}") from None

    async def open_stream(
        self, messages: Sequence[ChatTurn], params: GenerationParams, timeout_s: float
    ) -> ChunkStream:
        """Sends a streamed call and waits for its response headers, for at most timeout_s."""
        tier = self.config.tier
        request = self.http.build_request(
            "POST",
            self.url,
            headers=self._headers(True),
            content=wire.request_body(self.config.model, messages, params, stream=True),
        )
        try:
            async with asyncio.timeout(timeout_s):
                response = await self.http.send(request, stream=True)
                if response.status_code != 200:
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
        except (TimeoutError, httpx.TransportError) as exc:
            raise failures.from_exception(tier, exc, timeout_s) from None
        if response.status_code != 200:
            raise self._status_failure(response)
        return ChunkStream(tier, response)

    def _status_failure(self, response: httpx.Response) -> UpstreamFailure:
        # A rotated Secret may already hold the new key: look now rather than at the next recheck.
        rotated = response.status_code in (401, 403) and self.key.refresh_now()
        return failures.from_status(
            self.config.tier,
            response.status_code,
            wire.retry_after_s(response.headers),
            wire.error_detail(response.content),
            key_rotated=rotated,
        )

    async def close(self) -> None:
        await self.http.aclose()


class ChunkStream:
    """ChunkStream: the server-sent events of one streamed answer, read with a deadline per chunk."""

    def __init__(self, tier: str, response: httpx.Response) -> None:
        self.tier = tier
        self._response = response
        self._lines: AsyncIterator[str] = response.aiter_lines()
        self.done = False

    async def next_chunk(self, timeout_s: float) -> wire.WireChunk | None:
        """The next chunk, or None at the end of the stream ([DONE] or the body's end)."""
        tier = self.tier
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    line = await anext(self._lines, None)
                    if line is None:
                        return None
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, event names
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        self.done = True
                        return None
                    chunk = wire.parse_chunk(payload)
                    if chunk.error:
                        raise UpstreamFailure(
                            FailureKind.STREAM_CUT, tier, f"{tier} endpoint reported an error mid-stream: {chunk.error}"
                        )
                    return chunk
        except TimeoutError:
            raise UpstreamFailure(
                FailureKind.TIMEOUT, tier, f"{tier} endpoint sent nothing for {timeout_s:.2f}s"
            ) from None
        except httpx.TransportError as exc:
            raise failures.from_exception(tier, exc, timeout_s) from None
        except wire.MalformedAnswer as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, tier, f"{tier} endpoint streamed {exc}") from None

    async def aclose(self) -> None:
        await self._response.aclose()
