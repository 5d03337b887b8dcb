"""FakeOpenAI: the one OpenAI-compatible server tests use, on loopback (port 0), with fault switches.

It speaks HTTP/1.1 with keep-alive, over TLS when given a server context, answers
POST .../chat/completions plainly or as server-sent events and POST .../embeddings with
`fake_embedding` of each input, and records every request (headers included, so tests can see
the bearer token and the traceparent arrive). Each call takes the next queued Fault, else
`schedule(call_index)` when set, else answers normally; embeddings calls honour status and hang
faults. Usage counts a token a word. Runs on the event loop it is started in (tests start it on
the loop_thread's loop).

It answers like a model would, so tests can see what the router passed through: a request with
`tools` (and a tool_choice other than "none") whose last message is not a tool result gets a call
of the first tool (or the one tool_choice names) with arguments {"query": <last user text>},
streamed as OpenAI streams it (id and name first, then the arguments in fragments); a request
whose last message is a tool result gets an answer quoting it; JSON mode (response_format
json_object or json_schema) gets a JSON object; `logprobs` gets a logprob per word. Everything it
received is in `requests` (tools, response_format, names, content parts...).
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def fake_embedding(text: str, dim: int) -> np.ndarray:
    """The same float32 vector for the same text, different for different texts."""
    return np.random.default_rng(zlib.crc32(text.encode())).normal(0.0, 0.05, dim).astype(np.float32)


def token_count(text: str) -> int:
    """The fake's tokenizer: a token a word."""
    return len(text.split())


@dataclass(frozen=True)
class Fault:
    """Fault: how the fake answers one call."""

    kind: str = "ok"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    after_deltas: int = 0
    # reset: wait for release_cut() before resetting, so the test knows the deltas reached its caller.
    hold: bool = False
    # oversized: the characters of the one oversized text.
    size: int = 0
    # status: the error body's message ("injected <status>" when empty).
    message: str = ""

    @staticmethod
    def status_code(code: int, retry_after: str | None = None, message: str = "") -> Fault:
        return Fault(
            "status", status=code, headers=(("Retry-After", retry_after),) if retry_after else (), message=message
        )

    @staticmethod
    def echo_headers(code: int) -> Fault:
        """Answers code with the request's headers (Authorization included) in the error message."""
        return Fault("echo", status=code)

    @staticmethod
    def oversized(size: int, after_deltas: int = 0) -> Fault:
        """Answers with a text of size characters: the whole answer, or streamed as one delta after after_deltas."""
        return Fault("oversized", after_deltas=after_deltas, size=size)

    @staticmethod
    def hang() -> Fault:
        """Accepts the request and never answers."""
        return Fault("hang")

    @staticmethod
    def held() -> Fault:
        """Accepts the request and answers it normally once release_cut() is called."""
        return Fault("held")

    @staticmethod
    def slow_first_token(delay_s: float) -> Fault:
        """Sends the headers at once and the first token after delay_s."""
        return Fault("slow", delay_s=delay_s)

    @staticmethod
    def reset(after_deltas: int, hold: bool = False) -> Fault:
        """Sends after_deltas deltas (or part of the body), then resets the connection (TCP RST)."""
        return Fault("reset", after_deltas=after_deltas, hold=hold)

    @staticmethod
    def truncate(after_deltas: int) -> Fault:
        """Ends the stream cleanly after after_deltas deltas, with no finish reason and no [DONE]."""
        return Fault("truncate", after_deltas=after_deltas)

    @property
    def injected(self) -> bool:
        return self.kind != "ok"


OK = Fault()


@dataclass(frozen=True)
class ToolCallReply:
    """ToolCallReply: the one function call a tool-call answer makes."""

    id: str
    name: str
    arguments: str

    def fragments(self) -> list[str]:
        """The arguments in the pieces a stream sends them (several, so the router must pass each on)."""
        return [self.arguments[i : i + ARGUMENT_FRAGMENT] for i in range(0, len(self.arguments), ARGUMENT_FRAGMENT)]


# Characters of tool-call arguments per streamed fragment.
ARGUMENT_FRAGMENT = 8


@dataclass(frozen=True)
class Reply:
    """Reply: an answer's words (joined by spaces), or a tool call."""

    words: tuple[str, ...]
    tool_call: ToolCallReply | None = None

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_call else "stop"

    @property
    def completion_tokens(self) -> int:
        return len(self.tool_call.fragments()) if self.tool_call else len(self.words)


def word_logprob(index: int) -> float:
    """The logprob the fake reports for the index-th word of an answer."""
    return -0.125 * (index + 1)


def _logprob_entry(token: str, index: int) -> dict:
    logprob = word_logprob(index)
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": token, "logprob": logprob, "bytes": list(token.encode())}],
    }


def _last_user_text(messages: list) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
            return str(content)
    return ""


@dataclass(frozen=True)
class RecordedRequest:
    """RecordedRequest: one call as the fake received it; header names lowercased."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    fault: Fault


@dataclass
class FakeOpenAI:
    """FakeOpenAI: start() binds 127.0.0.1:0; base_url is what ORCHESTROUTER_<TIER>_BASE_URL takes."""

    name: str
    ssl_context: ssl.SSLContext | None = None
    # When set, a bearer token not in it is answered 401.
    accepted_keys: tuple[str, ...] | None = None
    schedule: Callable[[int], Fault] | None = None
    embedding_dim: int = 1536
    # When set, a chat completion's text is reply(request body) (a judge that reads its template).
    reply: Callable[[dict], str] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._queue: collections.deque[Fault] = collections.deque()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()
        self._cut = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.injected_failures = 0
        self._received = threading.Condition()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    def answer_words(self) -> list[str]:
        return [f"{self.name}:", "the", "answer", "is", "42."]

    def answer_text(self) -> str:
        return " ".join(self.answer_words())

    def reply_for(self, body: dict) -> Reply:
        """What the fake answers to a chat request body (before any fault changes it)."""
        if self.reply is not None:
            return Reply(words=tuple(self.reply(body).split(" ")))
        messages = body.get("messages") or [{}]
        last = messages[-1]
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        if tools and choice != "none" and last.get("role") != "tool":
            name = choice["function"]["name"] if isinstance(choice, dict) else tools[0]["function"]["name"]
            arguments = json.dumps({"query": _last_user_text(messages)})
            return Reply(words=(), tool_call=ToolCallReply(f"call_{self.name}_{self.calls}", name, arguments))
        if last.get("role") == "tool":
            return Reply(words=(f"{self.name}:", "the", "tool", "said", str(last.get("content"))))
        fmt = (body.get("response_format") or {}).get("type")
        if fmt in ("json_object", "json_schema"):
            return Reply(words=tuple(json.dumps({"answer": "42", "from": self.name}).split(" ")))
        return Reply(words=tuple(self.answer_words()))

    def usage_for(self, prompt: str) -> tuple[int, int]:
        """(prompt tokens, completion tokens) the fake reports for a one-message prompt."""
        return token_count(prompt), len(self.answer_words())

    def always(self, fault: Fault | None) -> None:
        """Every later call gets fault (None: answers normally again); queued faults still go first."""
        self.schedule = None if fault is None else (lambda _: fault)

    def enqueue(self, *faults: Fault) -> None:
        """The next calls get these faults, in order (thread-safe)."""
        self._queue.extend(faults)

    def wait_for_requests(self, count: int, timeout_s: float = 30.0) -> None:
        """Waits until count requests have arrived (thread-safe; never on the fake's own loop)."""
        with self._received:
            if not self._received.wait_for(lambda: len(self.requests) >= count, timeout_s):
                raise AssertionError(f"{self.name}: {len(self.requests)} requests after {timeout_s}s, not {count}")

    def release_cut(self) -> None:
        """Lets a held reset or a held answer go ahead (thread-safe)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._cut.set)

    async def start(self) -> FakeOpenAI:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._stopping.set()
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Closed connections and the stopping event end every handler; cancelling them instead
        # would make asyncio log each one.
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        await self._server.wait_closed()

    def _next_fault(self) -> Fault:
        index = self.calls
        self.calls += 1
        if self._queue:
            return self._queue.popleft()
        return self.schedule(index) if self.schedule else OK

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                path = request_line.decode("latin-1").split(" ")[1]
                if not await self._answer(path, headers, body, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _answer(self, path: str, headers: dict[str, str], raw: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answers one request; False when the connection is finished."""
        body = json.loads(raw) if raw else {}
        fault = self._next_fault()
        if self.accepted_keys is not None and headers.get("authorization") not in {
            f"Bearer {k}" for k in self.accepted_keys
        }:
            fault = Fault.status_code(401)
        with self._received:
            self.requests.append(RecordedRequest(path, headers, body, fault))
            self._received.notify_all()
        if fault.injected:
            self.injected_failures += 1
        if not path.endswith(("/chat/completions", "/embeddings")):
            await self._json(writer, 404, {"error": {"message": f"no route {path}"}})
            return True
        if fault.kind == "status":
            message = fault.message or f"injected {fault.status}"
            await self._json(writer, fault.status, {"error": {"message": message}}, fault.headers)
            return True
        if fault.kind == "echo":
            echoed = "; ".join(f"{k}: {v}" for k, v in sorted(headers.items()))
            await self._json(writer, fault.status, {"error": {"message": f"bad request with headers {echoed}"}})
            return True
        if fault.kind == "hang":
            await self._stopping.wait()
            return False
        if fault.kind == "held" and not await self._released():
            return False
        if path.endswith("/embeddings"):
            await self._json(writer, 200, self._embeddings(body))
            return True
        if body.get("stream"):
            return await self._stream(body, fault, writer)
        if fault.kind == "slow" and await self._interrupted(fault.delay_s):
            return False
        if fault.kind == "reset":
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"id":')
            await writer.drain()
            await self._reset(writer, fault)
            return False
        completion = self._completion(body)
        if fault.kind == "oversized":
            completion["choices"][0]["message"]["content"] = "x" * fault.size
        await self._json(writer, 200, completion)
        return True

    async def _stream(self, body: dict, fault: Fault, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        if fault.kind == "slow" and await self._interrupted(fault.delay_s):
            return False
        model = body.get("model", "")
        reply = self.reply_for(body)
        self._event(writer, {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        for i, choice in enumerate(self._stream_choices(reply, bool(body.get("logprobs")))):
            if fault.kind in ("reset", "truncate") and i == fault.after_deltas:
                break
            if fault.kind == "oversized" and i == fault.after_deltas:
                choice = {"index": 0, "delta": {"content": "x" * fault.size}, "finish_reason": None}
            self._event(writer, {"model": model, "choices": [choice]})
            await writer.drain()
        if fault.kind == "reset":
            await writer.drain()
            if fault.hold:
                await self._released()
            await self._reset(writer, fault)
            return False
        if fault.kind != "truncate":
            self._event(writer, {"choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})
            self._event(writer, {"choices": [], "usage": self._usage(body, reply)})
            writer.write(_chunk(b"data: [DONE]\n\n"))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    @staticmethod
    def _stream_choices(reply: Reply, logprobs: bool) -> list[dict]:
        """The streamed choices of a reply, one per delta: a word each, or a tool call's pieces."""
        call = reply.tool_call
        if call is not None:
            head = {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            pieces = [head] + [{"index": 0, "function": {"arguments": f}} for f in call.fragments()]
            return [{"index": 0, "delta": {"tool_calls": [p]}, "finish_reason": None} for p in pieces]
        choices = []
        for i, word in enumerate(reply.words):
            text = word if i == 0 else " " + word
            choice: dict = {"index": 0, "delta": {"content": text}, "finish_reason": None}
            if logprobs:
                choice["logprobs"] = {"content": [_logprob_entry(text, i)]}
            choices.append(choice)
        return choices

    async def _released(self) -> bool:
        """Waits for release_cut() or the fake's stop; True when released."""
        cut, stopping = asyncio.ensure_future(self._cut.wait()), asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({cut, stopping}, return_when=asyncio.FIRST_COMPLETED)
        cut.cancel(), stopping.cancel()
        return self._cut.is_set()

    async def _interrupted(self, delay_s: float) -> bool:
        """Waits delay_s; True if the fake is stopping meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), delay_s)
            return True
        except TimeoutError:
            return False

    @staticmethod
    async def _reset(writer: asyncio.StreamWriter, fault: Fault) -> None:
        sock = writer.get_extra_info("socket")
        # Linger 0: close() sends RST instead of FIN, as a crashed endpoint or a proxy reset would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    def _event(self, writer: asyncio.StreamWriter, obj: dict) -> None:
        writer.write(_chunk(b"data: " + json.dumps(obj).encode() + b"\n\n"))

    def _embeddings(self, body: dict) -> dict:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(text, self.embedding_dim).tolist()}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(token_count(text) for text in inputs)
        return {
            "object": "list",
            "model": body.get("model", ""),
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _usage(self, body: dict, reply: Reply) -> dict:
        prompt = sum(token_count(str(m.get("content", ""))) for m in body.get("messages", []))
        completion = reply.completion_tokens
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self, body: dict) -> dict:
        reply = self.reply_for(body)
        message: dict = {"role": "assistant", "content": reply.text if reply.tool_call is None else None}
        choice: dict = {"index": 0, "message": message, "finish_reason": reply.finish_reason}
        if reply.tool_call is not None:
            call = reply.tool_call
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            ]
        if body.get("logprobs"):
            words = [w if i == 0 else " " + w for i, w in enumerate(reply.words)]
            choice["logprobs"] = {"content": [_logprob_entry(w, i) for i, w in enumerate(words)]}
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": self._usage(body, reply),
        }

    @staticmethod
    async def _json(
        writer: asyncio.StreamWriter, status: int, obj: dict, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        data = json.dumps(obj).encode()
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            *(f"{k}: {v}" for k, v in extra),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await writer.drain()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
