"""wake_probe: what waking an idle server costs a round trip on this machine.

At concurrency 1 every hop of a request finds the process it calls idle, and on some machines
(virtual machines whose idle CPUs halt) waking it costs more than the work it then does. No code
in the router removes that, so `make bench`'s c=1 figures depend on it; this measures it apart.

`python -m orchestrouter.tools.wake_probe` starts two echo servers, each in its own process: a
grpc.aio ScoreStream that answers each message at once (the Score hop's messages: a 256-wide
embedding in, one probability out; the serve commands' gRPC settings, runtime.grpc_core), and a
raw asyncio TCP server that echoes length-prefixed bytes. It then sends each of them --calls
messages one at a time, and before each message the client spins (it does not sleep, which would
add its own wake-up) for a gap, during which only the server is idle. It prints the round trip's
p50 for each gap and what the longest gap added over back-to-back messages.

`--serve grpc|tcp` runs one server (the first line names its port), as the probe does for itself.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import struct
import sys
import time

from orchestrouter.runtime import grpc_core

grpc_core.apply_defaults()  # before grpc loads, as the serve commands do

from grpc import aio  # noqa: E402 - after grpc_core's settings, which core reads at import

from orchestrouter.tools.bench import child_tool  # noqa: E402
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc  # noqa: E402

_PORT = re.compile(r"wake probe .* \(port (\d+)\)")
_DIM = 256


def _answer(request: scorer_pb2.ScoreStreamRequest) -> scorer_pb2.ScoreStreamResponse:
    answer = scorer_pb2.ScoreStreamResponse(id=request.id)
    answer.response.win_probabilities.append(0.5)
    return answer


class _Echo(scorer_pb2_grpc.ScorerServiceServicer):
    async def ScoreStream(self, request_iterator, context):
        async for request in request_iterator:
            yield _answer(request)


async def _serve_grpc() -> None:
    server = aio.server()
    scorer_pb2_grpc.add_ScorerServiceServicer_to_server(_Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"wake probe gRPC echo on 127.0.0.1 (port {port})", flush=True)
    await server.wait_for_termination()


async def _serve_tcp() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack("<I", await reader.readexactly(4))
                body = await reader.readexactly(size)
                writer.write(struct.pack("<I", size) + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"wake probe TCP echo on 127.0.0.1 (port {port})", flush=True)
    await server.serve_forever()


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _request(i: int) -> scorer_pb2.ScoreStreamRequest:
    request = scorer_pb2.ScoreStreamRequest(id=i)
    batch = request.request.embeddings
    batch.data, batch.rows, batch.dim = bytes(4 * _DIM), 1, _DIM
    return request


async def grpc_round_trips(port: int, gap_s: float, calls: int) -> list[float]:
    """Round trips (µs) of calls messages on one ScoreStream call, each after a gap_s spin."""
    async with aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = scorer_pb2_grpc.ScorerServiceStub(channel).ScoreStream()
        times = []
        for i in range(calls):
            _spin(gap_s)
            start = time.perf_counter()
            await call.write(_request(i))
            await call.read()
            times.append((time.perf_counter() - start) * 1e6)
        await call.done_writing()
        return times


async def tcp_round_trips(port: int, gap_s: float, calls: int) -> list[float]:
    """Round trips (µs) of calls echoed messages of the Score request's size, each after a gap_s spin."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = _request(0).SerializeToString()
    message = struct.pack("<I", len(body)) + body
    times = []
    try:
        for _ in range(calls):
            _spin(gap_s)
            start = time.perf_counter()
            writer.write(message)
            (size,) = struct.unpack("<I", await reader.readexactly(4))
            await reader.readexactly(size)
            times.append((time.perf_counter() - start) * 1e6)
    finally:
        writer.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gaps-us", default="0,100,500", help="comma-separated idle gaps before each message (µs)")
    parser.add_argument("--calls", type=int, default=3000, help="messages per gap and server (a fifth more warm up)")
    parser.add_argument("--serve", choices=["grpc", "tcp"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        try:
            asyncio.run(_serve_grpc() if args.serve == "grpc" else _serve_tcp())
        except KeyboardInterrupt:
            pass
        return 0
    gaps = [float(g) for g in args.gaps_us.split(",")]
    warm = args.calls // 5
    me = ["orchestrouter.tools.wake_probe", "--serve"]
    with child_tool([*me, "grpc"], _PORT, "the gRPC echo") as g, child_tool([*me, "tcp"], _PORT, "the TCP echo") as t:
        print(f"{'idle gap (µs)':>14} {'gRPC p50 (µs)':>14} {'TCP p50 (µs)':>13}", flush=True)
        p50s = []
        for gap in gaps:
            p50 = []
            for measure, port in ((grpc_round_trips, g.port), (tcp_round_trips, t.port)):
                times = asyncio.run(measure(port, gap / 1e6, args.calls + warm))[warm:]
                p50.append(statistics.median(times))
            p50s.append(p50)
            print(f"{gap:>14g} {p50[0]:>14.1f} {p50[1]:>13.1f}", flush=True)
    if len(gaps) > 1:
        (g0, t0), (g1, t1) = p50s[0], p50s[-1]
        print(
            f"a server idle {gaps[-1]:g} µs instead of {gaps[0]:g}: {g1 - g0:+.0f} µs per gRPC round trip, "
            f"{t1 - t0:+.0f} µs per TCP one"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
