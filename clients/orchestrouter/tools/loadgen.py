"""A closed-loop load generator: N callers, each sending its next request as soon as its last one
is answered, for a timed window; latencies, requests/s, and the CPU the client and the watched
server processes spent in that window.

Two kinds of call: gRPC Route (answered or dry run) over grpc.aio, and an OpenAI chat completion
over HTTP/1.1 (the front door, the peers, the bare endpoint). The HTTP client is a few lines on
asyncio's Protocol API over one keep-alive connection per caller, not an HTTP library: the client
shares the cores with what it measures, so it should cost little (its own CPU is reported).

CPU is read from /proc/PID/stat (utime + stime) of each watched process and its descendants (a
router with several worker processes counts whole), before and after the window, divided by the
requests completed in it; RSS is VmRSS from /proc/PID/status, summed the same way.

`python -m orchestrouter.tools.loadgen --http URL` or `--grpc HOST:PORT [--dry-run]` runs one load.
`make bench` measures with the compiled twin of this loop (orchestrouter.tools.loadgen_go) when it
is built: the same window, QUERIES and LoadResult, at a fraction of this client's CPU over gRPC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
from grpc import aio

from orchestrouter.v1 import router_pb2, router_pb2_grpc

QUERIES = [
    "What is the capital of France?",
    "hi!",
    "Write a SQL query that finds duplicate emails in a users table.",
    "Prove that there are infinitely many primes.",
    "Give me three names for a bakery.",
    "How do I reverse a linked list in Java?",
    "Summarise the causes of the First World War in two sentences.",
    "What is 17 * 23?",
]
_TICKS = os.sysconf("SC_CLK_TCK")
# gRPC channels a load opens (callers share them round robin): more than one TCP connection, so
# that a router with several processes on one port (SO_REUSEPORT) gets its share on each.
GRPC_CHANNELS = 8


# --- Processes: CPU and RSS of a process and its descendants. ---


def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants that are alive now."""
    children, tree, todo = _children_of(), [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds (a process that has exited counts 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICKS


def rss_mb(pid: int) -> float:
    """VmRSS of pid and its descendants, in MiB."""
    total_kb = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# --- Results. ---


@dataclass
class LoadResult:
    """LoadResult: one timed window of a closed-loop load."""

    concurrency: int
    window_s: float
    latencies_ms: list[float]
    errors: int
    client_cpu_s: float
    server_cpu_s: dict[str, float] = field(default_factory=dict)
    first_error: str = ""

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.completed / self.window_s if self.window_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def cpu_ms_per_request(self, name: str) -> float:
        """Milliseconds of CPU per completed request: name is a watched process or "client"."""
        seconds = self.client_cpu_s if name == "client" else self.server_cpu_s.get(name)
        if seconds is None or not self.completed:
            return float("nan")  # not watched in this load, or nothing completed
        return seconds * 1000 / self.completed


# --- The closed loop. ---


async def closed_loop(
    call: Callable[[int, int], Awaitable[None]],
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.5,
    watch: Mapping[str, int] | None = None,
    max_warmup_s: float = 30.0,
    drain_s: float = 60.0,
) -> LoadResult:
    """concurrency callers each await call(caller, i) in a loop. The first warmup_s is not counted,
    nor anything before every caller has had an answer (a slow server's first answers come late;
    at most max_warmup_s more); then the window is counted: a request that ends in it, wherever it
    started. The window lasts duration_s, or three times as long as it took every caller to get
    its first answer if that is longer: with callers in step (a server that answers them in waves),
    a window shorter than a wave can count none. A call that raises counts as an error, not as a latency. Calls still
    in flight drain_s after the window are cancelled. watch: name -> pid of server processes whose
    CPU (with their descendants) is read over the window."""
    watch = dict(watch or {})
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    first_error = ""
    window: dict[str, float] = {}
    trees: dict[str, list[int]] = {}
    counter = 0
    answered = 0  # calls ended (answer or error) before the window opened
    t_window = t_end = float("inf")
    warm_at = loop.time() + warmup_s
    t_start = time.perf_counter()
    first_round_s = 0.0  # until every caller had its first answer

    def open_window() -> None:
        nonlocal t_window, t_end
        if "t" in window:
            return
        trees.update({name: process_tree(pid) for name, pid in watch.items()})
        window["cpu"] = own_cpu_seconds()
        window.update({f"cpu:{name}": cpu_seconds(tree) for name, tree in trees.items()})
        window["t"] = t_window = time.perf_counter()
        length = max(duration_s, 3 * first_round_s)
        t_end = t_window + length
        loop.call_later(length, close_window)

    def close_window() -> None:
        if "t_end" in window:
            return
        window["t_end"] = time.perf_counter()
        window["cpu_end"] = own_cpu_seconds()
        window.update({f"cpu_end:{name}": cpu_seconds(tree) for name, tree in trees.items()})

    def open_when_warm() -> None:
        nonlocal first_round_s
        if answered >= concurrency and not first_round_s:
            first_round_s = time.perf_counter() - t_start
        if answered >= concurrency and loop.time() >= warm_at:
            open_window()

    timers = [loop.call_at(warm_at, open_when_warm), loop.call_at(warm_at + max_warmup_s, open_window)]

    async def caller(k: int) -> None:
        nonlocal counter, errors, first_error, answered
        perf = time.perf_counter
        while True:
            i = counter
            counter += 1
            started = perf()
            if started >= t_end:
                return
            try:
                await call(k, i)
            except CALL_ERRORS as exc:  # the load goes on; the error is counted and the first one kept
                if t_window <= perf() <= t_end:
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
                elif t_window == float("inf"):
                    answered += 1
                    open_when_warm()
                continue
            ended = perf()
            if t_window <= ended <= t_end:
                latencies.append((ended - started) * 1000)
            elif t_window == float("inf"):
                answered += 1
                open_when_warm()

    limit_s = warmup_s + max_warmup_s + max(duration_s, 3 * (warmup_s + max_warmup_s)) + drain_s
    try:
        await asyncio.wait_for(asyncio.gather(*(caller(k) for k in range(concurrency))), limit_s)
    except TimeoutError:
        first_error = first_error or f"calls still in flight {drain_s:g} s after the window were cancelled"
    finally:
        for timer in timers:
            timer.cancel()
    open_window()  # no-ops when the timers ran
    close_window()
    return LoadResult(
        concurrency=concurrency,
        window_s=window["t_end"] - window["t"],
        latencies_ms=latencies,
        errors=errors,
        client_cpu_s=window["cpu_end"] - window["cpu"],
        server_cpu_s={name: window[f"cpu_end:{name}"] - window[f"cpu:{name}"] for name in trees},
        first_error=first_error,
    )


# --- HTTP/1.1: one keep-alive connection per caller. ---

_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)


class HttpStatusError(RuntimeError):
    """An answer other than 200."""


# What a failed call raises: an RPC error, an HTTP status, a broken or refused connection, a garbled answer.
CALL_ERRORS = (aio.AioRpcError, HttpStatusError, OSError, ValueError)


class _ResponseReader(asyncio.Protocol):
    """Reads one response at a time (Content-Length or chunked body) off a keep-alive connection."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            parsed = self._parse()
            if parsed is not None:
                self.waiter.set_result(parsed)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed mid-response: {exc}"))

    def _parse(self) -> tuple[int, bytes] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end]
        status_match = _STATUS.match(head)
        status = int(status_match.group(1)) if status_match else 0
        if match := _CONTENT_LENGTH.search(head):
            stop = end + 4 + int(match.group(1))
            if len(self.buffer) < stop:
                return None
            body, self.buffer = self.buffer[end + 4 : stop], self.buffer[stop:]
            return status, body
        if _CHUNKED.search(head):
            pos, chunks = end + 4, list[bytes]()
            while True:
                line_end = self.buffer.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                size = int(self.buffer[pos:line_end].split(b";")[0], 16)
                if len(self.buffer) < line_end + 2 + size + 2:
                    return None
                if size == 0:
                    trailer_end = self.buffer.find(b"\r\n\r\n", line_end)  # trailers, usually none
                    if trailer_end < 0:
                        return None
                    self.buffer = self.buffer[trailer_end + 4 :]
                    return status, b"".join(chunks)
                chunks.append(self.buffer[line_end + 2 : line_end + 2 + size])
                pos = line_end + 2 + size + 2
        raise ConnectionError("response with neither Content-Length nor chunked body")

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


class HttpChat:
    """POSTs OpenAI chat completions to url (…/v1/chat/completions), one connection per caller;
    use as `async with` (the connections close on its loop)."""

    def __init__(self, url: str, model: str, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.requests = []
        for query in QUERIES:
            body = json.dumps({"model": model, "messages": [{"role": "user", "content": query}]}).encode()
            head = (
                f"POST {parts.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"{extra}Content-Length: {len(body)}\r\n\r\n"
            )
            self.requests.append(head.encode() + body)
        self.connections: dict[int, _ResponseReader] = {}

    async def _connection(self, caller: int) -> _ResponseReader:
        conn = self.connections.get(caller)
        if conn is None or conn.transport is None or conn.transport.is_closing():
            _, conn = await asyncio.get_running_loop().create_connection(_ResponseReader, self.host, self.port)
            self.connections[caller] = conn
        return conn

    async def __call__(self, caller: int, i: int) -> None:
        conn = await self._connection(caller)
        status, body = await conn.exchange(self.requests[i % len(self.requests)])
        if status != 200:
            if conn.transport is not None:
                conn.transport.close()  # what is left of an error's body is not read
            self.connections.pop(caller, None)  # the next call opens a new connection
            raise HttpStatusError(f"HTTP {status}: {body[:200]!r}")

    async def __aenter__(self) -> HttpChat:
        return self

    async def __aexit__(self, *_: object) -> None:
        for conn in self.connections.values():
            if conn.transport is not None:
                conn.transport.close()
        self.connections.clear()


# --- gRPC Route. ---


class GrpcRoute:
    """Route calls (answered, or dry run) over GRPC_CHANNELS channels; use as `async with`."""

    def __init__(self, target: str, dry_run: bool, channels: int = GRPC_CHANNELS) -> None:
        self.target = target
        self.requests = [
            router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=q)], dry_run=dry_run)
            for q in QUERIES
        ]
        # A local subchannel pool per channel: otherwise gRPC shares one connection among them.
        self.channels = [
            aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(channels)
        ]
        self.stubs = [router_pb2_grpc.RouterServiceStub(c) for c in self.channels]

    async def __call__(self, caller: int, i: int) -> None:
        await self.stubs[caller % len(self.stubs)].Route(self.requests[i % len(self.requests)])

    async def __aenter__(self) -> GrpcRoute:
        return self

    async def __aexit__(self, *_: object) -> None:
        for channel in self.channels:
            await channel.close(None)


def summary(result: LoadResult, floor_p50_ms: float | None = None) -> str:
    text = (
        f"c={result.concurrency:<4} {result.rps:9,.0f} req/s  p50 {result.percentile(50):7.3f}  "
        f"p95 {result.percentile(95):7.3f}  p99 {result.percentile(99):7.3f} ms  "
        f"client CPU {result.cpu_ms_per_request('client'):.3f} ms/req"
    )
    for name in result.server_cpu_s:
        text += f"  {name} CPU {result.cpu_ms_per_request(name):.3f} ms/req"
    if result.errors:
        text += f"  ERRORS {result.errors} (first: {result.first_error})"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--http", metavar="URL", help="chat completions URL, e.g. http://127.0.0.1:8080/v1/chat/completions"
    )
    what.add_argument("--grpc", metavar="HOST:PORT", help="the router's gRPC address (Route)")
    parser.add_argument("--dry-run", action="store_true", help="Route with dry_run (gRPC only)")
    parser.add_argument("--model", default="orchestrouter-auto", help="the chat request's model (HTTP only)")
    parser.add_argument("--concurrency", "-c", type=int, action="append", help="repeatable; default 1 and 32")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds counted per concurrency")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted before each")
    parser.add_argument("--watch", type=int, action="append", default=[], help="a server PID whose CPU to report")
    args = parser.parse_args(argv)
    watch = {f"pid{pid}": pid for pid in args.watch}

    async def run() -> int:
        failed = 0
        for c in args.concurrency or [1, 32]:
            if args.http:
                async with HttpChat(args.http, args.model) as chat:
                    result = await closed_loop(chat, c, args.duration, args.warmup, watch)
            else:
                async with GrpcRoute(args.grpc, args.dry_run) as route:
                    result = await closed_loop(route, c, args.duration, args.warmup, watch)
            print(summary(result), flush=True)
            failed += result.errors
        return 1 if failed else 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
