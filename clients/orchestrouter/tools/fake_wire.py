"""fake_wire: the HTTP/1.1 framing of the tools' fake model endpoints (fault run, shadow bench, loop).

Just enough of HTTP/1.1 for a keep-alive client that sends Content-Length bodies (the router's
dispatch client): read one request, write one whole response.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes] | None:
    """The next request on the connection: (path, headers with lower-case names, body); None at its end."""
    request_line = await reader.readline()
    if not request_line:
        return None
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    parts = request_line.decode("latin-1").split(" ")
    return (parts[1] if len(parts) > 1 else ""), headers, body


def http_response(status: int, data: bytes, content_type: str = "application/json") -> bytes:
    """One whole response: the status line, Content-Type and Content-Length, then data."""
    status_line = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
    head = f"{status_line}Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data
