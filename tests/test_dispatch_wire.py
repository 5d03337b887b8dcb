"""Non-streamed endpoint calls on the wire (dispatch/http1.py under EndpointClient): what an endpoint's
bytes become. A scripted HTTP endpoint on loopback answers each request with raw bytes: well-formed
answers in each framing, garbage, half answers, huge bodies, stalls and resets. Every call ends with
an answer or the UpstreamFailure its bytes deserve; none hangs or leaks into the next call.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from orchestrouter.router.config import TierConfig
from orchestrouter.router.dispatch.api_key import ApiKeySource
from orchestrouter.router.dispatch.endpoint import EndpointClient
from orchestrouter.router.dispatch.failures import FailureKind, UpstreamFailure
from orchestrouter.router.model import ChatTurn, GenerationParams
from tests.support.loop_thread import LoopThread

KEY = "sk-wire-test-5f1e2d3c4b"
MESSAGES = [ChatTurn(role="user", content="hello")]

Action = Callable[[asyncio.StreamWriter], Awaitable[bool]]


def completion(text: str = "hi there") -> bytes:
    return json.dumps(
        {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    ).encode()


def http(status: str, body: bytes, *headers: str, length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def send(data: bytes, close: bool = False) -> Action:
    async def act(writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return not close

    return act


def later(delay_s: float, data: bytes) -> Action:
    async def act(writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(delay_s)
        writer.write(data)
        await writer.drain()
        return True

    return act


def reset_after(data: bytes) -> Action:
    async def act(writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close() sends RST
        writer.transport.abort()
        return False

    return act


def stall(data: bytes) -> Action:
    """Sends data, then nothing more, holding the connection open."""

    async def act(writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(3600)
        return False

    return act


def trickle(head: bytes, piece: bytes) -> Action:
    """Sends head, then piece over and over (an endless body)."""

    async def act(writer: asyncio.StreamWriter) -> bool:
        writer.write(head)
        while True:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.001)

    return act


class Scripted:
    """Scripted: a loopback HTTP endpoint answering request i with actions[i] (the last one repeats)."""

    def __init__(self, *actions: Action) -> None:
        self.actions = list(actions)
        self.connections = 0
        self.requests: list[bytes] = []
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                await reader.readexactly(int(match.group(1)) if match else 0)
                self.requests.append(head)
                action = self.actions[min(len(self.requests) - 1, len(self.actions) - 1)]
                if not await action(writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)

    def client(self, **fields: Any) -> EndpointClient:
        config = TierConfig(
            tier="premium", base_url=f"http://127.0.0.1:{self.port}/v1", model="m", api_key=KEY, **fields
        )
        return EndpointClient(config, ApiKeySource(KEY, "", "ORCHESTROUTER_PREMIUM_API_KEY_FILE", 5.0))


async def call(client: EndpointClient, timeout_s: float = 5.0) -> str:
    answer = await client.complete(MESSAGES, GenerationParams(), timeout_s)
    return answer.text


async def failure(client: EndpointClient, timeout_s: float = 5.0) -> UpstreamFailure:
    with pytest.raises(UpstreamFailure) as info:
        await call(client, timeout_s)
    return info.value


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


# --- answers in each framing --------------------------------------------------------------------------


def test_content_length_answers_reuse_one_connection_and_send_the_key():
    async def test() -> None:
        async with Scripted(send(http("200 OK", completion("one"))), send(http("200 OK", completion("two")))) as ep:
            client = ep.client()
            assert [await call(client), await call(client)] == ["one", "two"]
            assert ep.connections == 1
            head = ep.requests[0].decode("latin-1")
            assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
            assert f"Authorization: Bearer {KEY}\r\n" in head and f"Host: 127.0.0.1:{ep.port}\r\n" in head
            await client.close()

    run(test)


def test_a_chunked_answer_with_extensions_and_trailers_is_read():
    body = completion("chunked")
    chunks = b"5;ext=1\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:X}\r\n".encode() + body[5:] + b"\r\n"
    answer = http("200 OK", b"", "Transfer-Encoding: chunked", length=False) + chunks + b"0\r\nX-T: 1\r\n\r\n"

    async def test() -> None:
        async with Scripted(send(answer)) as ep:
            client = ep.client()
            assert [await call(client), await call(client)] == ["chunked", "chunked"]
            assert ep.connections == 1
            await client.close()

    run(test)


def test_an_answer_read_to_the_close_is_read_and_its_connection_not_reused():
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + completion("closed")

    async def test() -> None:
        async with Scripted(send(answer, close=True)) as ep:
            client = ep.client()
            assert [await call(client), await call(client)] == ["closed", "closed"]
            assert ep.connections == 2
            await client.close()

    run(test)


def test_interim_1xx_answers_are_skipped():
    async def test() -> None:
        async with Scripted(send(b"HTTP/1.1 100 Continue\r\n\r\n" + http("200 OK", completion("after")))) as ep:
            client = ep.client()
            assert await call(client) == "after"
            await client.close()

    run(test)


def test_gzip_and_deflate_bodies_are_decoded_and_undecodable_ones_fall_back_as_malformed():
    body = completion("squeezed")

    async def test() -> None:
        async with Scripted(
            send(http("200 OK", gzip.compress(body), "Content-Encoding: gzip")),
            send(http("200 OK", zlib.compress(body), "Content-Encoding: deflate")),
            send(http("200 OK", body, "Content-Encoding: gzip")),
            send(http("200 OK", body, "Content-Encoding: br")),
        ) as ep:
            client = ep.client()
            assert [await call(client), await call(client)] == ["squeezed", "squeezed"]
            for _ in range(2):
                f = await failure(client)
                assert f.kind is FailureKind.MALFORMED and "content encoding" in f.message
            await client.close()

    run(test)


# --- error answers -------------------------------------------------------------------------------------


def test_a_rate_limit_keeps_its_retry_after_and_an_echoed_key_is_masked():
    echoed = json.dumps({"error": {"message": f"bad key Bearer {KEY}"}}).encode()

    async def test() -> None:
        async with Scripted(
            send(http("429 Too Many Requests", b"{}", "Retry-After: 2")),
            send(http("400 Bad Request", echoed)),
        ) as ep:
            client = ep.client()
            f = await failure(client)
            assert (f.kind, f.retry_after_s, f.retryable) == (FailureKind.RATE_LIMITED, 2.0, True)
            f = await failure(client)
            assert f.kind is FailureKind.BAD_REQUEST and "bad key" in f.message and KEY not in f.message
            assert ep.connections == 1  # error answers read to their end keep the connection
            await client.close()

    run(test)


# --- attacks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello there\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!",
    ],
)
def test_garbage_is_a_malformed_answer(garbage):
    async def test() -> None:
        async with Scripted(send(garbage)) as ep:
            client = ep.client()
            f = await failure(client)
            assert f.kind is FailureKind.MALFORMED and f.tier == "premium"
            await client.close()

    run(test)


@pytest.mark.parametrize("cut", [send, reset_after])
def test_half_an_answer_then_a_close_or_reset_is_a_dropped_connection_worth_a_retry(cut):
    half = http("200 OK", completion(), length=False).replace(b"\r\n\r\n", b"\r\nContent-Length: 500\r\n\r\n", 1)

    async def test() -> None:
        action = cut(half[:-40], close=True) if cut is send else cut(half[:-40])
        async with Scripted(action, send(http("200 OK", completion("again")))) as ep:
            client = ep.client()
            f = await failure(client)
            assert f.kind is FailureKind.CONNECTION and "dropped the connection" in f.message and f.retryable
            assert await call(client) == "again"
            await client.close()

    run(test)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_huge_answer_fails_at_the_cap_without_being_read_to_its_end(chunked):
    if chunked:
        head = http("200 OK", b"", "Transfer-Encoding: chunked", length=False)
        piece = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    else:
        head = http("200 OK", b"", length=False).replace(b"\r\n\r\n", b"\r\nContent-Length: 100000000000\r\n\r\n")
        piece = b"x" * 0x4000

    async def test() -> None:
        async with Scripted(trickle(head, piece), send(http("200 OK", completion("small")))) as ep:
            client = ep.client(max_answer_bytes=100_000)
            f = await failure(client, timeout_s=20)
            assert f.kind is FailureKind.MALFORMED and "more than 100000 bytes" in f.message
            # The cut connection is not reused: the next call gets its own answer on a new one.
            assert await call(client) == "small" and ep.connections == 2
            await client.close()

    run(test)


def test_endless_headers_are_malformed():
    async def test() -> None:
        async with Scripted(trickle(b"HTTP/1.1 200 OK\r\n", b"X-Pad: " + b"a" * 1000 + b"\r\n")) as ep:
            client = ep.client()
            f = await failure(client, timeout_s=20)
            assert f.kind is FailureKind.MALFORMED
            await client.close()

    run(test)


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"])
def test_slow_headers_time_out_and_the_late_answer_never_reaches_the_next_call(sent):
    async def test() -> None:
        async with Scripted(
            later(0.5, http("200 OK", completion("late"))) if not sent else stall(sent),
            send(http("200 OK", completion("fresh"))),
        ) as ep:
            client = ep.client()
            f = await failure(client, timeout_s=0.2)
            assert f.kind is FailureKind.TIMEOUT
            await asyncio.sleep(0.5)  # the late answer has come by now, on the abandoned connection
            assert await call(client) == "fresh" and ep.connections == 2
            await client.close()

    run(test)


def test_a_pooled_connection_the_endpoint_closed_is_not_used():
    async def test() -> None:
        async with Scripted(send(http("200 OK", completion("one")), close=True)) as ep:
            client = ep.client()
            assert await call(client) == "one"
            await asyncio.sleep(0.1)  # the FIN arrives while the connection is idle
            assert await call(client) == "one" and ep.connections == 2
            await client.close()

    run(test)


def test_nothing_listening_is_a_connection_failure():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def test() -> None:
        config = TierConfig(tier="small", base_url=f"http://127.0.0.1:{port}/v1", model="m")
        client = EndpointClient(config, ApiKeySource("", "", "ORCHESTROUTER_SMALL_API_KEY_FILE", 5.0))
        f = await failure(client)
        assert f.kind is FailureKind.CONNECTION and "cannot connect" in f.message
        await client.close()

    run(test)


def test_resets_under_load_lose_no_call_and_the_pool_recovers():
    ok = send(http("200 OK", completion("ok")))
    cut = reset_after(http("200 OK", b"", length=False).replace(b"\r\n\r\n", b"\r\nContent-Length: 99\r\n\r\n{"))

    async def test() -> None:
        async with Scripted(*([ok, cut] * 100), ok) as ep:
            client = ep.client(max_concurrency=8)
            results = await asyncio.gather(*(call(client) for _ in range(200)), return_exceptions=True)
            texts = [r for r in results if r == "ok"]
            cuts = [r for r in results if isinstance(r, UpstreamFailure) and r.kind is FailureKind.CONNECTION]
            assert len(texts) + len(cuts) == 200 and texts and cuts
            assert [await call(client) for _ in range(5)] == ["ok"] * 5
            await client.close()

    run(test)


def test_a_client_used_from_a_second_event_loop_connects_afresh():
    """Connections belong to the loop that made them: one left idle by an earlier loop is never reused."""
    server_loop = LoopThread()
    ep = Scripted(send(http("200 OK", completion("ok"))))
    server_loop.run(ep.__aenter__())
    try:
        client = ep.client()
        assert [asyncio.run(call(client)), asyncio.run(call(client))] == ["ok", "ok"]
        assert ep.connections == 2
    finally:
        server_loop.run(ep.__aexit__(None, None, None))
        server_loop.close()
