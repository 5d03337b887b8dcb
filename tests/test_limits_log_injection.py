"""Log injection (issue 10, defect 10a): a client's HTTP/2 GOAWAY debug text cannot forge log lines.

gRPC core logs a received GOAWAY, debug text included, verbatim on stderr (its own C++ logging,
not Python's); a newline in that text starts a line the client wrote. Both services run as
processes, as `orchestrouter serve-*` starts them; a raw socket speaks just enough HTTP/2 to send
the GOAWAY, and the services' captured output must hold no line starting with the forged text.
"""

from __future__ import annotations

import socket
import struct

import pytest

from orchestrouter.tools.launcher import Service, start_pair

FORGED = "FORGED ERROR orchestrouter: all keys leaked"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, GOAWAY = 0x4, 0x7
INTERNAL_ERROR = 0x2


def frame(kind: int, payload: bytes) -> bytes:
    """One HTTP/2 frame on stream 0, no flags."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, 0]) + struct.pack(">I", 0) + payload


def send_goaway(port: int, debug: bytes) -> None:
    """Opens an HTTP/2 connection, sends GOAWAY with debug data, and reads until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(PREFACE + frame(SETTINGS, b""))
        sock.sendall(frame(GOAWAY, struct.pack(">II", 0, INTERNAL_ERROR) + debug))
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass


@pytest.fixture
def services(random_model):
    pair = start_pair({"ORCHESTROUTER_SCORER_MODEL": str(random_model)}, {"ORCHESTROUTER_DECISION_LOG": "off"})
    try:
        yield pair.scorer, pair.router
    finally:
        pair.stop(10)


def test_a_goaway_debug_text_writes_no_line_into_either_servers_log(services):
    for service in services:
        send_goaway(service.port, f"bye\n{FORGED}\r\n{FORGED}".encode())
    for service in services:
        stop_and_check(service)


def stop_and_check(service: Service) -> None:
    assert service.stop(10) == 0
    forged = [line for line in service.log_lines if line.lstrip().startswith("FORGED")]
    assert not forged, f"{service.name} logged a line the client wrote: {forged}"
