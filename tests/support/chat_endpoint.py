"""ChatEndpoint: a minimal OpenAI-compatible server on loopback that records what it receives.

It answers every POST .../chat/completions with a fixed reply and usage (as server-sent events
when the request asks to stream), every POST .../embeddings with `fake_embedding` of each input,
and keeps each request's headers (traceparent, authorization) and JSON body. A status other
than 200 makes every call fail.
"""

from __future__ import annotations

import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

REPLY = "Paris."
PROMPT_TOKENS = 11
COMPLETION_TOKENS = 3


def fake_embedding(text: str, dim: int) -> np.ndarray:
    """The same float32 vector for the same text, different for different texts."""
    return np.random.default_rng(zlib.crc32(text.encode())).normal(0.0, 0.05, dim).astype(np.float32)


@dataclass(frozen=True)
class ReceivedRequest:
    """ReceivedRequest: one request the endpoint answered; header names lowercased."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ChatEndpoint:
    """ChatEndpoint: start() binds 127.0.0.1:0; base_url is what ORCHESTROUTER_*_BASE_URL takes."""

    status: int = 200
    embedding_dim: int = 1536
    requests: list[ReceivedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                endpoint.requests.append(
                    ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if endpoint.status != 200:
                    self._send(endpoint.status, {"error": {"message": "injected failure", "type": "server_error"}})
                    return
                if self.path.endswith("/embeddings"):
                    self._embeddings(body)
                    return
                if body.get("stream"):
                    self._stream(body.get("model", ""))
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", ""),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": REPLY}}
                        ],
                        "usage": {
                            "prompt_tokens": PROMPT_TOKENS,
                            "completion_tokens": COMPLETION_TOKENS,
                            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                        },
                    },
                )

            def _embeddings(self, body: dict) -> None:
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": fake_embedding(text, endpoint.embedding_dim).tolist(),
                    }
                    for i, text in enumerate(inputs)
                ]
                self._send(
                    200,
                    {
                        "object": "list",
                        "model": body.get("model", ""),
                        "data": data,
                        "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
                    },
                )

            def _stream(self, model: str) -> None:
                chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model}
                events = [
                    {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": REPLY}}]},
                    {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                    {
                        **chunk,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": PROMPT_TOKENS,
                            "completion_tokens": COMPLETION_TOKENS,
                            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                        },
                    },
                ]
                data = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="chat-endpoint")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> ChatEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
