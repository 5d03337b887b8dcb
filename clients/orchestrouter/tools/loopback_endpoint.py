"""The benchmarks' model endpoint: a lean OpenAI-compatible HTTP/1.1 server on loopback, in its own process.

POST …/chat/completions answers one fixed chat completion; POST …/embeddings answers a fixed
vector per input (--embedding-dim wide, for a peer router that embeds through an OpenAI-compatible
endpoint); anything else is a 404. Keep-alive, Content-Length bodies, no chunked requests. It is
written on asyncio's Protocol API, not on a web framework, so that what every system in a bench
run pays for the endpoint is as small as it can be and the same for all (the "floor").

`python -m orchestrouter.tools.loopback_endpoint [--port 0] [--delay-ms 0]` prints
"loopback endpoint on 127.0.0.1 (port N)" once it listens and serves until SIGTERM or SIGINT.
A delay below the event loop's timer resolution (about 1 ms with epoll) rounds up to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "loopback",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "The answer is 42."}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
    }
).encode()

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_INPUTS = re.compile(rb'"input"\s*:\s*\[')


def embeddings_body(n_inputs: int, dim: int) -> bytes:
    """An OpenAI embeddings answer: n_inputs copies of one unit-length vector of dim floats."""
    vector = [round(1.0 / dim**0.5, 6)] * dim
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(n_inputs)]
    return json.dumps(
        {"object": "list", "data": data, "model": "loopback-embed", "usage": {"prompt_tokens": 1, "total_tokens": 1}}
    ).encode()


def response(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class EndpointProtocol(asyncio.Protocol):
    """One keep-alive connection: parses requests out of the byte stream and answers each in turn."""

    def __init__(self, chat: bytes, embedding_dim: int, delay_s: float) -> None:
        self.chat = chat
        self.embedding_dim = embedding_dim
        self.delay_s = delay_s
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end]
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            if len(self.buffer) < end + 4 + length:
                return  # the body has not all arrived
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(self.route(head, body))

    def route(self, head: bytes, body: bytes) -> bytes:
        line = head.split(b"\r\n", 1)[0]
        if line.startswith(b"POST ") and b"/chat/completions" in line:
            return self.chat
        if line.startswith(b"POST ") and b"/embeddings" in line:
            # One vector per input: a list input counts its top-level items; a string is one.
            n = 1
            if _INPUTS.search(body):
                try:
                    inputs = json.loads(body).get("input")
                    n = len(inputs) if isinstance(inputs, list) else 1
                except (ValueError, AttributeError):
                    n = 1
            return response("200 OK", embeddings_body(n, self.embedding_dim))
        return response("404 Not Found", b'{"error":{"message":"not found"}}')

    def answer(self, data: bytes) -> None:
        if self.delay_s <= 0:
            if self.transport is not None:
                self.transport.write(data)
            return
        # Answers leave in the order the requests came, each after its delay.
        self.pending.append(data)
        asyncio.get_running_loop().call_later(self.delay_s, self.flush_one)

    def flush_one(self) -> None:
        data = self.pending.pop(0)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, delay_ms: float, embedding_dim: int) -> None:
    loop = asyncio.get_running_loop()
    chat = response("200 OK", COMPLETION)
    server = await loop.create_server(
        lambda: EndpointProtocol(chat, embedding_dim, delay_ms / 1000), "127.0.0.1", port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"loopback endpoint on 127.0.0.1 (port {server.sockets[0].getsockname()[1]})", flush=True)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="time before each answer (default 0)")
    parser.add_argument("--embedding-dim", type=int, default=1536, help="width of the /embeddings vectors")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.delay_ms, args.embedding_dim))
    return 0


if __name__ == "__main__":
    sys.exit(main())
