"""EndpointClient: single calls to one tier's OpenAI-compatible chat endpoint over a pooled httpx client.

httpx directly rather than the `openai` client: dispatch needs the raw response for its own
policy (Retry-After, status classes, a stream that ended without finishing), a key that can
change between two calls, per-phase timeouts, and no hidden retries; the wire format it needs
is two small JSON shapes (see openai_format.py), and skipping the SDK's models saves CPU on every call.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence

import httpx

from orchestrouter.router import openai_format
from orchestrouter.router.config import TierConfig
from orchestrouter.router.dispatch import failures, wire
from orchestrouter.router.dispatch.api_key import ApiKeySource, UnusableKey
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
            # A call waits at most pool_timeout_s for a free connection: hung calls holding them
            # all fail the tier fast instead of queueing every request behind them.
            timeout=httpx.Timeout(None, connect=config.connect_timeout_s, pool=config.pool_timeout_s),
            limits=httpx.Limits(
                max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency
            ),
            verify=_tls_verify(config),
            transport=transport,
        )

    def _headers(self, stream: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        key = self._current_key()
        if key:
            self._register_key(key)
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _current_key(self) -> str:
        try:
            return self.key.current()
        except UnusableKey as exc:
            raise failures.unusable_key(self.config.tier, str(exc)) from None

    def _register_key(self, key: str) -> None:
        # A key read from a (rotated) file is masked wherever it could surface, like a configured one.
        if key != self._registered_key:
            register_secrets(key)
            self._registered_key = key

    async def complete(
        self, messages: Sequence[ChatTurn], params: GenerationParams, timeout_s: float
    ) -> openai_format.ChatAnswer:
        """One non-streamed call, bounded by timeout_s from sending to the last byte."""
        tier = self.config.tier
        body = wire.request_body(self.config.model, messages, params, stream=False)
        try:
            async with asyncio.timeout(timeout_s):
                response, content = await self._post_capped(body)
        except failures.HTTP_STACK_ERRORS as exc:
            raise self._call_failure(exc, timeout_s) from None
        if response.status_code != 200:
            raise self._status_failure(response, content)
        try:
            return openai_format.parse_answer(content, self.config.model)
        except openai_format.MalformedAnswer as exc:
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
                        error_body, _ = await read_at_most(response, wire.MAX_ERROR_BODY)
                    finally:
                        await response.aclose()
        except failures.HTTP_STACK_ERRORS as exc:
            raise self._call_failure(exc, timeout_s) from None
        if response.status_code != 200:
            raise self._status_failure(response, error_body)
        return ChunkStream(tier, response, self.config.max_answer_bytes)

    async def _post_capped(self, body: bytes) -> tuple[httpx.Response, bytes]:
        """Sends a non-streamed call; its answer, never more than max_answer_bytes of it held.

        An error answer is read only as far as its message is wanted; a 200 answer over the cap
        is an UpstreamFailure (the other tier is tried), not a body held in memory.
        """
        request = self.http.build_request("POST", self.url, headers=self._headers(False), content=body)
        response = await self.http.send(request, stream=True)
        try:
            if response.status_code != 200:
                content, _ = await read_at_most(response, wire.MAX_ERROR_BODY)
                return response, content
            cap = self.config.max_answer_bytes
            content, cut = await read_at_most(response, cap)
            if cut:
                raise answer_too_large(self.config.tier, cap)
            return response, content
        finally:
            await response.aclose()

    def _call_failure(self, exc: BaseException, timeout_s: float) -> UpstreamFailure:
        """The failure for what the HTTP stack raised; a full pool is told apart, since only this
        endpoint knows its size and wait."""
        if isinstance(exc, httpx.PoolTimeout):
            # Every connection is busy (hung calls, say): a failure of this tier, so the other is tried now.
            c = self.config
            return UpstreamFailure(
                FailureKind.TIMEOUT,
                c.tier,
                f"{c.tier} endpoint had no free connection within {c.pool_timeout_s:.2f}s "
                f"(all {c.max_concurrency} busy)",
            )
        return failures.from_exception(self.config.tier, exc, timeout_s)

    def _status_failure(self, response: httpx.Response, content: bytes) -> UpstreamFailure:
        # A rotated Secret may already hold the new key: look now rather than at the next recheck.
        rotated = response.status_code in (401, 403) and self.key.refresh_now()
        return failures.from_status(
            self.config.tier,
            response.status_code,
            wire.retry_after_s(response.headers),
            wire.error_detail(content),
            key_rotated=rotated,
        )

    async def close(self) -> None:
        await self.http.aclose()


class ChunkStream:
    """ChunkStream: the server-sent events of one streamed answer, read with a deadline per chunk."""

    def __init__(self, tier: str, response: httpx.Response, max_bytes: int) -> None:
        self.tier = tier
        self._response = response
        self._lines: AsyncIterator[str] = capped_lines(response, max_bytes, tier)
        self.done = False

    async def next_chunk(self, timeout_s: float) -> openai_format.ChatChunk | None:
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
                    chunk = openai_format.parse_chunk(payload)
                    if chunk.error:
                        raise UpstreamFailure(
                            FailureKind.STREAM_CUT, tier, f"{tier} endpoint reported an error mid-stream: {chunk.error}"
                        )
                    return chunk
        except TimeoutError:
            raise UpstreamFailure(
                FailureKind.TIMEOUT, tier, f"{tier} endpoint sent nothing for {timeout_s:.2f}s"
            ) from None
        except openai_format.MalformedAnswer as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, tier, f"{tier} endpoint streamed {exc}") from None
        except failures.HTTP_STACK_ERRORS as exc:
            raise failures.from_exception(tier, exc, timeout_s) from None

    async def aclose(self) -> None:
        await self._response.aclose()


def answer_too_large(tier: str, cap: int) -> UpstreamFailure:
    return UpstreamFailure(
        FailureKind.MALFORMED,
        tier,
        f"{tier} endpoint answered more than {cap} bytes (ORCHESTROUTER_{tier.upper()}_MAX_ANSWER_BYTES)",
    )


async def read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to limit bytes of the (decoded) body, and whether there was more; the rest is never read."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(parts)[:limit], True
    return b"".join(parts), False


async def capped_lines(response: httpx.Response, cap: int, tier: str) -> AsyncIterator[str]:
    """The body's lines (CR LF or LF), failing with UpstreamFailure once more than cap bytes came.

    httpx's own line reader would hold a line of any length; this one holds at most cap bytes.
    """
    size = 0
    pending = b""
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise answer_too_large(tier, cap)
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")
