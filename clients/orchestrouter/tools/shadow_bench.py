"""The bench's shadow-routing figure: the caller's answered-Route latency at shadow rate 0 and 1.

Two routers share one scorer and two loopback chat-completions fakes (in a child process, so they
take no time from the client's loop), one at ORCHESTROUTER_SHADOW_RATE 0 and one at 1, each
recording into its own SQLite traffic store. Sequential answered Route calls alternate between
them in blocks, so drift on a noisy machine falls on both alike; the figure is the ratio of
their p50s (acceptance: within 5%). The fakes answer after --endpoint-delay-ms, a stand-in for a
model's time to answer, against which the router's own work is what is measured.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
from grpc import aio

from orchestrouter.tools.fake_wire import http_response, read_request
from orchestrouter.tools.launcher import Service, start
from orchestrouter.v1 import router_pb2, router_pb2_grpc

QUESTION = "Give me three names for a bakery."


def _answer(body: dict, name: str) -> bytes:
    words = f"{name}: Crumb, Rise, Proof.".split()
    data = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": " ".join(words)}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 7 + len(words)},
        }
    ).encode()
    return http_response(200, data)


def run_endpoints(conn: Connection, delay_s: float) -> None:
    """The fakes' process: two endpoints answering after delay_s; sends their ports, serves until told to stop."""

    def handler(name: str):
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while request := await read_request(reader):
                    body = json.loads(request[2] or b"{}")
                    await asyncio.sleep(delay_s)
                    writer.write(_answer(body, name))
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        return serve

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)
        small = await asyncio.start_server(handler("small"), "127.0.0.1", 0)
        premium = await asyncio.start_server(handler("premium"), "127.0.0.1", 0)
        conn.send((small.sockets[0].getsockname()[1], premium.sockets[0].getsockname()[1]))
        await stop.wait()

    asyncio.run(main())


async def _alternating_routes(targets: list[str], n: int, block: int) -> list[list[float]]:
    """n answered Route calls to each target, sequential, alternating targets every block calls."""
    samples: list[list[float]] = [[] for _ in targets]
    request = router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=QUESTION)])
    channels = [aio.insecure_channel(t) for t in targets]
    try:
        stubs = [router_pb2_grpc.RouterServiceStub(c) for c in channels]
        for stub in stubs:  # warm-up: connections, caches
            for _ in range(50):
                await stub.Route(request)
        for start_at in range(0, n, block):
            for stub, out in zip(stubs, samples, strict=True):
                for _ in range(min(block, n - start_at)):
                    t = time.perf_counter()
                    await stub.Route(request)
                    out.append((time.perf_counter() - t) * 1000)
    finally:
        for c in channels:
            await c.close(None)
    return samples


def shadow_latency(scorer_target: str, requests: int, endpoint_delay_ms: float) -> tuple[float, float]:
    """The caller's p50 (ms) of answered Route calls at shadow rate 0 and at rate 1, measured in one run."""
    parent, child = multiprocessing.Pipe()
    fakes = multiprocessing.get_context("spawn").Process(
        target=run_endpoints, args=(child, endpoint_delay_ms / 1000.0), daemon=True
    )
    fakes.start()
    routers: list[Service] = []
    try:
        small_port, premium_port = parent.recv()
        with tempfile.TemporaryDirectory(prefix="orchestrouter-bench-") as tmp:
            for rate in ("0", "1"):
                env = {
                    "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
                    "ORCHESTROUTER_SCORER_TARGET": scorer_target,
                    "ORCHESTROUTER_DECISION_LOG": "off",
                    "ORCHESTROUTER_SMALL_BASE_URL": f"http://127.0.0.1:{small_port}/v1",
                    "ORCHESTROUTER_PREMIUM_BASE_URL": f"http://127.0.0.1:{premium_port}/v1",
                    "ORCHESTROUTER_SHADOW_RATE": rate,
                    "ORCHESTROUTER_STORE": f"sqlite:///{Path(tmp) / f'traffic-rate-{rate}.db'}",
                }
                routers.append(start("serve-router", env, name=f"router-shadow-{rate}"))
            off, on = asyncio.run(_alternating_routes([r.target for r in routers], requests, block=100))
            for router in routers:  # before their stores' folder goes (stop() is idempotent)
                router.stop()
    finally:
        for router in routers:
            router.stop()
        parent.send("stop")
        fakes.join(10)
        if fakes.is_alive():
            fakes.kill()
    return float(np.percentile(off, 50)), float(np.percentile(on, 50))
