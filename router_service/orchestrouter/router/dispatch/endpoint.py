"""EndpointClient: single calls to one tier's OpenAI-compatible chat endpoint over pooled connections.

Non-streamed calls go over http1.Http1Pool, our own keep-alive HTTP/1.1 client (a call costs the router
~3x less CPU than through aiohttp: see http1.py); streamed ones, and every call when a proxy applies,
over a pooled aiohttp session. aiohttp rather than httpx or the `openai` client because it is the
cheapest of those: on a loopback endpoint (one run, interleaved rounds) a call cost the router
0.10-0.14 ms of CPU with aiohttp, 0.34 ms with httpx over httpx-aiohttp's transport and 0.65-1.6 ms with
httpx's own. Dispatch needs the raw response for its own policy (Retry-After, status classes, a stream
that ended without finishing), a key that can change between two calls, per-phase timeouts, and no
hidden retries or redirects; the wire format it needs is two small JSON shapes (see openai_format.py).
Both transports share everything above the socket: request body and headers, slots, the client span,
the cap on answers and the mapping of failures.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
from opentelemetry.trace import Span
from yarl import URL

from orchestrouter.router import openai_format
from orchestrouter.router.config import TierConfig
from orchestrouter.router.dispatch import failures, http1, http_trace, wire
from orchestrouter.router.dispatch.api_key import ApiKeySource, UnusableKey
from orchestrouter.router.dispatch.failures import FailureKind, UpstreamFailure
from orchestrouter.router.model import ChatTurn, GenerationParams
from orchestrouter.runtime.redaction import register_secrets


def _tls(config: TierConfig) -> ssl.SSLContext | bool:
    """The endpoint's CA bundle, or True: aiohttp's default verification against the system store."""
    return ssl.create_default_context(cafile=config.ca_bundle) if config.ca_bundle else True


def env_proxy(url: URL) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name for url, unless NO_PROXY exempts its host.

    Read once per client: aiohttp's trust_env would read the environment (and ~/.netrc) on every call.
    """
    # proxy_bypass_environment: NO_PROXY's rules, as the stdlib reads them (typeshed omits the function).
    if urllib.request.proxy_bypass_environment(url.host or ""):  # type: ignore[attr-defined]
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(url.scheme) or proxies.get("all")


class EndpointClient:
    """EndpointClient: at most max_concurrency calls (and connections) to one endpoint; each method is one
    call, no retries.

    Failures come out as UpstreamFailure. A call waits at most pool_timeout_s for one of the
    max_concurrency slots: hung calls holding them all fail the tier fast instead of queueing every
    request behind them. Connecting is bounded by connect_timeout_s; the rest of a call by the
    caller's timeout_s.
    """

    def __init__(self, config: TierConfig, key: ApiKeySource) -> None:
        self.config = config
        self.key = key
        self.url = URL(config.base_url.rstrip("/") + "/chat/completions")
        self._registered_key = ""
        self._tls = _tls(config)
        self._proxy = env_proxy(self.url)
        # One slot per call in flight, released when its response is let go; the connector's own
        # limit is the same, so aiohttp never queues a call that holds a slot.
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._session: aiohttp.ClientSession | None = None
        # Non-streamed calls without a proxy; a proxy's CONNECT and auth stay aiohttp's job.
        self._pool: http1.Http1Pool | None = None
        if self._proxy is None:
            self._pool = http1.Http1Pool(
                self.url.scheme,
                self.url.host or "",
                self.url.port or 0,
                self.url.raw_path_qs,
                self._tls,
                config.connect_timeout_s,
                config.max_concurrency,
            )

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop it was made in, the one that serves.
        if self._session is None:
            c = self.config
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=c.max_concurrency, limit_per_host=0, ssl=self._tls),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=c.connect_timeout_s),
            )
        return self._session

    def _headers(self, stream: bool) -> dict[str, str]:
        # identity: a compressed answer would cost more CPU to decode than loopback or LAN bytes cost.
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            "Accept-Encoding": "identity",
        }
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
                status, headers, content = await self._post_capped(body)
        except failures.HTTP_STACK_ERRORS as exc:
            raise failures.from_exception(tier, exc, timeout_s) from None
        if status != 200:
            raise self._status_failure(status, headers, content)
        try:
            return openai_format.parse_answer(content, self.config.model)
        except openai_format.MalformedAnswer as exc:
            raise UpstreamFailure(FailureKind.MALFORMED, tier, f"{tier} endpoint answered {exc}") from None

    async def open_stream(
        self, messages: Sequence[ChatTurn], params: GenerationParams, timeout_s: float
    ) -> ChunkStream:
        """Sends a streamed call and waits for its response headers, for at most timeout_s."""
        body = wire.request_body(self.config.model, messages, params, stream=True)
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._send(body, stream=True)
                if response.status != 200:
                    try:
                        error_body, _ = await read_at_most(response, wire.MAX_ERROR_BODY)
                    finally:
                        self._let_go(response)
        except failures.HTTP_STACK_ERRORS as exc:
            raise failures.from_exception(self.config.tier, exc, timeout_s) from None
        if response.status != 200:
            raise self._status_failure(response.status, response.headers, error_body)
        return ChunkStream(self, response)

    async def _post_capped(self, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        """Sends a non-streamed call; its status, headers and answer, never more than max_answer_bytes of it held.

        An error answer is read only as far as its message is wanted; a 200 answer over the cap
        is an UpstreamFailure (the other tier is tried), not a body held in memory.
        """
        if self._pool is None:
            return await self._post_capped_via_proxy(body)
        headers, span = await self._begin_call(stream=False)
        try:
            answer = await self._pool.post(headers, body, self.config.max_answer_bytes, wire.MAX_ERROR_BODY)
        except BaseException as exc:
            http_trace.end_client_span(span, error=exc)
            raise
        finally:
            self._slots.release()
        http_trace.end_client_span(span, status=answer.status)
        if answer.status == 200 and answer.cut:
            raise answer_too_large(self.config.tier, self.config.max_answer_bytes)
        return answer.status, answer.headers, answer.content

    async def _post_capped_via_proxy(self, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        """_post_capped over aiohttp, which speaks to proxies."""
        response = await self._send(body, stream=False)
        try:
            if response.status != 200:
                content, _ = await read_at_most(response, wire.MAX_ERROR_BODY)
                return response.status, response.headers, content
            cap = self.config.max_answer_bytes
            content, cut = await read_at_most(response, cap)
            if cut:
                raise answer_too_large(self.config.tier, cap)
            return response.status, response.headers, content
        finally:
            self._let_go(response)

    async def _send(self, body: bytes, stream: bool) -> aiohttp.ClientResponse:
        """Takes a slot and sends the call; the response (headers read) holds the slot until _let_go."""
        headers, span = await self._begin_call(stream)
        try:
            # No redirects: an endpoint that moved is a failure to report, not a place to resend the key to.
            response = await self._http().post(
                self.url, data=body, headers=headers, allow_redirects=False, proxy=self._proxy
            )
        except BaseException as exc:
            self._slots.release()
            http_trace.end_client_span(span, error=exc)
            raise
        http_trace.end_client_span(span, status=response.status)
        return response

    async def _begin_call(self, stream: bool) -> tuple[dict[str, str], Span | None]:
        """The call's headers and client span, once it holds a slot (the caller releases it)."""
        headers = self._headers(stream)
        await self._take_slot()
        return headers, http_trace.start_client_span("POST", self.url, headers)

    async def _take_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return
        try:
            async with asyncio.timeout(self.config.pool_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            # Every connection is busy (hung calls, say): a failure of this tier, so the other is tried now.
            c = self.config
            raise UpstreamFailure(
                FailureKind.TIMEOUT,
                c.tier,
                f"{c.tier} endpoint had no free connection within {c.pool_timeout_s:.2f}s "
                f"(all {c.max_concurrency} busy)",
            ) from None

    def _let_go(self, response: aiohttp.ClientResponse) -> None:
        """Returns the connection to the pool (closes it if its body was not read to the end) and the slot."""
        response.release()
        self._slots.release()

    def _status_failure(self, status: int, headers: Mapping[str, str], content: bytes) -> UpstreamFailure:
        # A rotated Secret may already hold the new key: look now rather than at the next recheck.
        rotated = status in (401, 403) and self.key.refresh_now()
        return failures.from_status(
            self.config.tier,
            status,
            wire.retry_after_s(headers),
            wire.error_detail(content),
            key_rotated=rotated,
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._session is not None:
            await self._session.close()


class ChunkStream:
    """ChunkStream: the server-sent events of one streamed answer, read with a deadline per chunk."""

    def __init__(self, client: EndpointClient, response: aiohttp.ClientResponse) -> None:
        self.tier = client.config.tier
        self._client = client
        self._response = response
        self._lines: AsyncIterator[str] = capped_lines(response, client.config.max_answer_bytes, self.tier)
        self._closed = False
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
        if not self._closed:
            self._closed = True
            self._client._let_go(self._response)


def answer_too_large(tier: str, cap: int) -> UpstreamFailure:
    return UpstreamFailure(
        FailureKind.MALFORMED,
        tier,
        f"{tier} endpoint answered more than {cap} bytes (ORCHESTROUTER_{tier.upper()}_MAX_ANSWER_BYTES)",
    )


async def read_at_most(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """Up to limit bytes of the (decoded) body, and whether there was more; the rest is never read."""
    parts: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(parts)[:limit], True
    return b"".join(parts), False


async def capped_lines(response: aiohttp.ClientResponse, cap: int, tier: str) -> AsyncIterator[str]:
    """The body's lines (CR LF or LF), failing with UpstreamFailure once more than cap bytes came.

    aiohttp's own line reader would hold a line up to its buffer limit; this one holds at most cap bytes
    beyond what aiohttp buffers. The lines within the cap are yielded before the failure, whatever
    the network's chunking: a stream cut after its first token is a cut, not a fallback.
    """
    size = 0
    pending = b""
    while chunk := await response.content.readany():
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            size += len(line) + 1
            if size > cap:
                raise answer_too_large(tier, cap)
            yield line.rstrip(b"\r").decode("utf-8", "replace")
        if size + len(pending) > cap:
            raise answer_too_large(tier, cap)
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")
