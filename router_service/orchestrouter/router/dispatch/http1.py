"""Http1Pool: a lean HTTP/1.1 keep-alive client for one endpoint's non-streamed calls, on asyncio.Protocol.

Why not aiohttp for these: on a loopback endpoint (one run, interleaved) a non-streamed call cost the
router ~220 us of CPU through aiohttp at its cheapest (raw body, fixed headers, no auto-decompression,
read() and one json.loads) and ~65 us through a bare Protocol client; a routed request makes one such
call. The request is one write, the answer is usually one data_received, and nothing else runs per call.

What it does: one POST at a time per connection, connections kept alive and reused (LIFO), TLS by
loop.create_connection(ssl=...), answers with Content-Length, chunked or read-to-close bodies,
gzip/deflate bodies decoded (we ask for identity; some servers compress anyway), 1xx answers skipped.
What it does not: proxies, redirects, streaming (EndpointClient keeps aiohttp for those), pipelining.

Failures are the exceptions below (and OSError, ssl errors, TimeoutError); failures.from_exception maps
them. A connection that failed, was cut short, or whose answer was not read to its end is closed,
never pooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

# An answer's status line and headers may take this many bytes; more is a malformed answer.
MAX_HEAD = 64 * 1024
# Chunk-size lines (with extensions) longer than this are malformed.
_MAX_CHUNK_LINE = 1024


class CannotConnect(ConnectionError):
    """The endpoint could not be connected to (its cause: the OSError or ssl error)."""


class ConnectTimedOut(ConnectionError):
    """No connection to the endpoint within the connect timeout."""


class DroppedConnection(ConnectionError):
    """The endpoint closed (or reset) the connection before the whole answer came."""


class BadAnswer(ValueError):
    """The endpoint's bytes are not an HTTP/1.1 answer (status line, headers or chunking)."""


class UndecodableBody(ValueError):
    """The answer's Content-Encoding is unknown, or its body does not decode."""


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer: one HTTP answer; content is at most the caller's limit, cut says whether there was more."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    cut: bool


class _Connection(asyncio.Protocol):
    """One keep-alive connection: bytes received so far, and a waiter woken by more bytes or the end."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False  # the peer finished sending (EOF) or the connection is lost
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def more(self) -> None:
        """Waits for bytes beyond those in buffer; DroppedConnection once the peer has ended."""
        if self.ended:
            raise DroppedConnection("the endpoint closed the connection before the whole answer came")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    @property
    def reusable(self) -> bool:
        # Bytes nobody asked for (a stray answer) would be read as the next call's answer: not reused.
        return not self.ended and not self.buffer and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self.transport.abort()


class Http1Pool:
    """Http1Pool: POSTs to one URL over pooled keep-alive connections; at most max_idle kept idle.

    The caller bounds how many calls run at once, and each call's total time (asyncio.timeout around
    post()); connecting is bounded by connect_timeout_s here.
    """

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        target: str,
        tls: ssl.SSLContext | bool,
        connect_timeout_s: float,
        max_idle: int,
    ) -> None:
        self._host = host
        self._port = port
        self._tls: ssl.SSLContext | None = None
        if scheme == "https":
            self._tls = tls if isinstance(tls, ssl.SSLContext) else ssl.create_default_context()
        self._connect_timeout_s = connect_timeout_s
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        # The loop the idle connections belong to: a pool used from another loop starts afresh.
        self._loop: asyncio.AbstractEventLoop | None = None
        default_port = 443 if scheme == "https" else 80
        authority = host if port == default_port else f"{host}:{port}"
        if ":" in host:  # an IPv6 literal
            authority = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        self._request_line = f"POST {target} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")

    async def post(self, headers: Mapping[str, str], body: bytes, limit: int, error_limit: int) -> Answer:
        """Sends body with headers; the answer with at most limit bytes of a 200's body (error_limit of others)."""
        request = self._request(headers, body)
        conn = await self._connection()
        try:
            assert conn.transport is not None
            conn.transport.write(request)
            answer, reusable = await _read_answer(conn, limit, error_limit)
        except BaseException:
            conn.close()
            raise
        if reusable and conn.reusable and len(self._idle) < self._max_idle:
            self._idle.append(conn)
        else:
            conn.close()
        return answer

    def _request(self, headers: Mapping[str, str], body: bytes) -> bytes:
        head = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        # One CR and one LF per header line: any other would split the request (never sent).
        if head.count("\r") != len(headers) or head.count("\n") != len(headers):
            raise ValueError("a header holds a line break")
        return b"%s%sContent-Length: %d\r\n\r\n%s" % (self._request_line, head.encode("latin-1"), len(body), body)

    async def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self.close()
            self._loop = loop
        while self._idle:
            conn = self._idle.pop()
            if conn.reusable:
                return conn
            conn.close()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, conn = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=self._host if self._tls is not None else None,
                )
        except TimeoutError:
            raise ConnectTimedOut(f"no connection within {self._connect_timeout_s:.2f}s") from None
        except OSError as exc:  # ssl.SSLError among them
            raise CannotConnect(type(exc).__name__) from exc
        return conn

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


async def _read_answer(conn: _Connection, limit: int, error_limit: int) -> tuple[Answer, bool]:
    """The next answer on conn, and whether conn can carry another call after it."""
    while True:
        status, headers, keep_alive = await _read_head(conn)
        if 100 <= status < 200:
            if status == 101:
                raise BadAnswer("the endpoint switched protocols")
            continue  # 100 Continue, 103 Early Hints: the answer follows
        break
    cap = limit if status == 200 else error_limit
    if status in (204, 304):
        return Answer(status, headers, b"", False), keep_alive
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", ""):
        # The compressed bytes are capped like a plain body, and the decoded ones again in _decode.
        raw, cut, complete = await _read_body(conn, headers, cap)
        if cut:
            return Answer(status, headers, b"", True), False
        try:
            content, cut = _decode(encoding, raw, cap)
        except UndecodableBody:
            if status != 200:
                return Answer(status, headers, b"", False), False  # an error's message is not worth failing on
            raise
        return Answer(status, headers, content, cut), keep_alive and complete and not cut
    content, cut, complete = await _read_body(conn, headers, cap)
    return Answer(status, headers, content, cut), keep_alive and complete and not cut


async def _read_head(conn: _Connection) -> tuple[int, dict[str, str], bool]:
    """Status, headers (names lower-cased) and keep-alive of the next answer; its bytes leave the buffer."""
    buffer = conn.buffer
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        if len(buffer) > MAX_HEAD:
            raise BadAnswer("the answer's headers are too long")
        await conn.more()
    if end > MAX_HEAD:
        raise BadAnswer("the answer's headers are too long")
    head = bytes(buffer[:end]).decode("latin-1")
    del buffer[: end + 4]
    status_line, *lines = head.split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit() or rest[3:4] not in ("", " "):
        raise BadAnswer("not an HTTP/1.1 status line")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadAnswer("a malformed header line")
        key = name.lower()
        value = value.strip()
        # Repeated headers are joined, as HTTP allows for list-valued ones.
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    return int(code), headers, keep_alive


async def _read_body(conn: _Connection, headers: Mapping[str, str], cap: int) -> tuple[bytes, bool, bool]:
    """(at most cap bytes of the body, whether there was more, whether the body was read to its end)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(conn, cap)
    length_header = headers.get("content-length")
    if length_header is not None:
        if not length_header.isdigit():
            raise BadAnswer("a malformed Content-Length")
        return await _read_exactly(conn, int(length_header), cap)
    return await _read_to_close(conn, cap)


async def _read_exactly(conn: _Connection, length: int, cap: int) -> tuple[bytes, bool, bool]:
    buffer = conn.buffer
    if length > cap:
        # Known to be too long: not waited for (what came is enough for an error's message, if any).
        return bytes(buffer[:cap]), True, False
    while len(buffer) < length:
        await conn.more()
    content = bytes(buffer[:length])
    del buffer[:length]
    return content, False, True


async def _read_to_close(conn: _Connection, cap: int) -> tuple[bytes, bool, bool]:
    buffer = conn.buffer
    while not conn.ended:
        if len(buffer) > cap:
            return bytes(buffer[:cap]), True, False
        await conn.more()
    if len(buffer) > cap:
        return bytes(buffer[:cap]), True, False
    content = bytes(buffer)
    buffer.clear()
    return content, False, False  # the connection is over: never reused


async def _read_chunked(conn: _Connection, cap: int) -> tuple[bytes, bool, bool]:
    buffer = conn.buffer
    parts: list[bytes] = []
    size = 0
    while True:
        while (line_end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > _MAX_CHUNK_LINE:
                raise BadAnswer("a malformed chunk size")
            await conn.more()
        size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
        try:
            chunk_size = int(size_text, 16)
        except ValueError:
            raise BadAnswer("a malformed chunk size") from None
        if chunk_size < 0:
            raise BadAnswer("a malformed chunk size")
        if chunk_size == 0:
            # Trailers (usually none) up to the blank line: "0\r\n\r\n" ends here at once.
            while (trailer_end := buffer.find(b"\r\n\r\n", line_end)) < 0:
                if len(buffer) > MAX_HEAD:
                    raise BadAnswer("the answer's trailers are too long")
                await conn.more()
            del buffer[: trailer_end + 4]
            return b"".join(parts), False, True
        if size + chunk_size > cap:
            # More than cap bytes are coming; what has arrived of this chunk is enough to return.
            parts.append(bytes(buffer[line_end + 2 : line_end + 2 + cap - size]))
            return b"".join(parts), True, False
        while len(buffer) < line_end + 2 + chunk_size + 2:
            await conn.more()
        if buffer[line_end + 2 + chunk_size : line_end + 4 + chunk_size] != b"\r\n":
            raise BadAnswer("a chunk without its CR LF")
        parts.append(bytes(buffer[line_end + 2 : line_end + 2 + chunk_size]))
        size += chunk_size
        del buffer[: line_end + 4 + chunk_size]


def _decode(encoding: str, raw: bytes, cap: int) -> tuple[bytes, bool]:
    """raw decoded per its Content-Encoding, at most cap bytes of it, and whether there was more."""
    candidates: tuple[int, ...]
    if encoding in ("gzip", "x-gzip"):
        candidates = (zlib.MAX_WBITS | 16,)
    elif encoding == "deflate":
        # Servers send either zlib-wrapped or raw deflate under this name.
        candidates = (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    else:
        raise UndecodableBody(f"unsupported content encoding {encoding[:40]!r}")
    for wbits in candidates:
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(raw, cap + 1)
        except zlib.error:
            continue
        if len(out) > cap or decoder.unconsumed_tail:
            return out[:cap], True
        if not decoder.eof:
            raise UndecodableBody("a truncated compressed body")
        return out, False
    raise UndecodableBody(f"a body that is not {encoding}")
