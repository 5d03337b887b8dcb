"""The bench's load generator and loopback endpoint: a real endpoint process, a real closed loop."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from typing import Any

from orchestrouter.tools.bench import loopback_endpoint
from orchestrouter.tools.loadgen import (
    HttpChat,
    LoadResult,
    _ResponseReader,
    closed_loop,
    cpu_seconds,
    process_tree,
    rss_mb,
)


async def load(chat: HttpChat, concurrency: int, **kwargs: Any) -> LoadResult:
    async with chat:
        return await closed_loop(chat, concurrency, **kwargs)


def test_closed_loop_against_the_loopback_endpoint_counts_answers_and_cpu() -> None:
    with loopback_endpoint() as (pid, port):
        chat = HttpChat(f"http://127.0.0.1:{port}/v1/chat/completions", "loopback")
        result = asyncio.run(load(chat, 4, duration_s=0.5, warmup_s=0.1, watch={"endpoint": pid}))
    assert result.errors == 0, result.first_error
    assert result.completed > 50
    assert 0.4 < result.window_s < 5
    assert result.rps == result.completed / result.window_s
    assert 0 < result.percentile(50) <= result.percentile(95) <= result.percentile(99)
    assert set(result.server_cpu_s) == {"endpoint"}
    assert result.server_cpu_s["endpoint"] >= 0 and result.client_cpu_s > 0
    assert len(chat.requests) > 1  # the callers cycle through several prompts


def test_error_answers_are_counted_not_timed() -> None:
    with loopback_endpoint() as (_, port):
        chat = HttpChat(f"http://127.0.0.1:{port}/v1/no-such-path", "loopback")
        result = asyncio.run(load(chat, 2, duration_s=0.3, warmup_s=0.05))
    assert result.completed == 0 and result.errors > 0
    assert "HTTP 404" in result.first_error


def test_refused_connections_are_errors() -> None:
    with loopback_endpoint() as (_, port):
        pass  # the endpoint has stopped: its port now refuses
    chat = HttpChat(f"http://127.0.0.1:{port}/v1/chat/completions", "loopback")
    result = asyncio.run(load(chat, 2, duration_s=0.2, warmup_s=0.0))
    assert result.completed == 0 and result.errors > 0
    assert "Connect" in result.first_error or "refused" in result.first_error.lower()


def test_embeddings_answer_one_vector_per_input_of_the_given_width() -> None:
    with loopback_endpoint(embedding_dim=8) as (_, port):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/embeddings",
            data=json.dumps({"model": "m", "input": ["a", "b", "c"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert all(len(item["embedding"]) == 8 for item in body["data"])


def test_chunked_and_split_responses_are_read_whole() -> None:
    async def read(pieces: list[bytes]) -> tuple[int, bytes]:
        reader = _ResponseReader()
        reader.waiter = asyncio.get_running_loop().create_future()
        for piece in pieces:
            reader.data_received(piece)
        return await asyncio.wait_for(reader.waiter, 1)

    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    assert asyncio.run(read([chunked[:30], chunked[30:52], chunked[52:]])) == (200, b"hello world")
    sized = b"HTTP/1.1 503 X\r\ncontent-length: 4\r\n\r\nbusy"
    assert asyncio.run(read([sized[:20], sized[20:]])) == (503, b"busy")


def test_process_figures_cover_this_process() -> None:
    assert os.getpid() in process_tree(os.getpid())
    assert cpu_seconds([os.getpid()]) > 0
    assert rss_mb(os.getpid()) > 10
