"""`make bench`: routing-decision latency and throughput, Score throughput, and the HTTP front door's
overhead, printed.

Starts the scorer and the router as processes (like `make run`), then measures from a client
process: sequential dry-run Route latency (p50/p99, as the caller sees it and inside the
router), dry-run Route throughput at a given concurrency, Score throughput at batch 256, the
local embedder's own time, the OpenAI-compatible front door against gRPC Route: the same
answered request (to a loopback fake endpoint in a child process), alternately over each, as the
caller sees it; and the caller's answered-Route p50 at shadow rate 0 against rate 1
(orchestrouter.tools.shadow_bench). These machines are noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time

import aiohttp
import numpy as np
from grpc import aio

from orchestrouter.router.embedders import WordLlamaEmbedder
from orchestrouter.tools.faultrun import run_fakes
from orchestrouter.tools.launcher import http_port, start_pair
from orchestrouter.tools.shadow_bench import shadow_latency
from orchestrouter.v1 import router_pb2, router_pb2_grpc, scorer_pb2, scorer_pb2_grpc

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


def percentiles(samples_ms: list[float]) -> str:
    a = np.asarray(samples_ms)
    return f"p50 {np.percentile(a, 50):.3f} ms  p90 {np.percentile(a, 90):.3f} ms  p99 {np.percentile(a, 99):.3f} ms"


def route_request(i: int) -> router_pb2.RouteRequest:
    text = QUERIES[i % len(QUERIES)]
    return router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)], dry_run=True)


async def sequential_routes(target: str, n: int) -> tuple[list[float], list[float]]:
    async with aio.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        for i in range(200):
            await stub.Route(route_request(i))
        outside, inside = [], []
        for i in range(n):
            t = time.perf_counter()
            reply = await stub.Route(route_request(i))
            outside.append((time.perf_counter() - t) * 1000)
            inside.append(reply.timings.total_ms)
        return outside, inside


async def concurrent_routes(target: str, n: int, concurrency: int) -> float:
    async with aio.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        counter = iter(range(n))

        async def worker() -> None:
            for i in counter:
                await stub.Route(route_request(i))

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t)


async def score_throughput(target: str, batch: int, n_batches: int, concurrency: int) -> float:
    matrix = np.random.default_rng(0).normal(size=(batch, 256)).astype("<f4")
    request = scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=matrix.tobytes(), rows=batch, dim=256))
    async with aio.insecure_channel(target) as channel:
        stub = scorer_pb2_grpc.ScorerServiceStub(channel)
        for _ in range(20):
            await stub.Score(request)
        counter = iter(range(n_batches))

        async def worker() -> None:
            for _ in counter:
                await stub.Score(request)

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n_batches * batch / (time.perf_counter() - t)


def chat_body(i: int) -> dict:
    return {"model": "orchestrouter-auto", "messages": [{"role": "user", "content": QUERIES[i % len(QUERIES)]}]}


def answered_request(i: int) -> router_pb2.RouteRequest:
    text = QUERIES[i % len(QUERIES)]
    return router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)])


async def frontdoor_vs_grpc(target: str, http_base_url: str, n: int) -> tuple[list[float], list[float]]:
    """Caller-seen milliseconds of the same answered request over gRPC Route and over POST
    /v1/chat/completions, alternating which goes first so drift on the machine hits both alike."""
    url = http_base_url + "/chat/completions"
    async with aio.insecure_channel(target) as channel, aiohttp.ClientSession() as http:
        stub = router_pb2_grpc.RouterServiceStub(channel)

        async def over_grpc(i: int) -> float:
            t = time.perf_counter()
            await stub.Route(answered_request(i))
            return (time.perf_counter() - t) * 1000

        async def over_http(i: int) -> float:
            t = time.perf_counter()
            async with http.post(url, json=chat_body(i)) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"front door answered {response.status}: {await response.text()}")
            return (time.perf_counter() - t) * 1000

        for i in range(100):
            await over_grpc(i), await over_http(i)
        grpc_ms, http_ms = [], []
        for i in range(n):
            if i % 2:
                grpc_ms.append(await over_grpc(i))
                http_ms.append(await over_http(i))
            else:
                http_ms.append(await over_http(i))
                grpc_ms.append(await over_grpc(i))
        return grpc_ms, http_ms


def embed_latency(n: int) -> list[float]:
    embedder = WordLlamaEmbedder()
    samples = []
    for i in range(n):
        t = time.perf_counter()
        embedder.embed([QUERIES[i % len(QUERIES)]])
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--frontdoor-requests", type=int, default=1000, help="answered requests over each API")
    parser.add_argument(
        "--scorer-listen",
        default="127.0.0.1:0",
        help="e.g. unix:/tmp/orchestrouter-scorer.sock to measure a unix socket hop",
    )
    parser.add_argument("--shadow-requests", type=int, default=1000, help="answered Route calls per shadow rate")
    parser.add_argument(
        "--endpoint-delay-ms", type=float, default=50.0, help="the fake endpoints' time to answer (shadow figure)"
    )
    args = parser.parse_args(argv)

    print(f"local embedder alone:        {percentiles(embed_latency(2000))}")
    # Loopback fake endpoints (both always answer) for the front door's answered requests.
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    fakes = ctx.Process(target=run_fakes, args=(child, ("ok",)), daemon=True)
    fakes.start()
    small_port, premium_port = parent.recv()
    router_env = {
        "ORCHESTROUTER_HTTP_LISTEN": "127.0.0.1:0",
        "ORCHESTROUTER_SMALL_BASE_URL": f"http://127.0.0.1:{small_port}/v1",
        "ORCHESTROUTER_PREMIUM_BASE_URL": f"http://127.0.0.1:{premium_port}/v1",
        "ORCHESTROUTER_DECISION_LOG": "off",
    }
    try:
        pair = start_pair(scorer_env={"ORCHESTROUTER_SCORER_LISTEN": args.scorer_listen}, router_env=router_env)
    except BaseException:
        parent.send("stop")
        fakes.join(10)
        raise
    router, scorer = pair.router, pair.scorer
    try:
        outside, inside = asyncio.run(sequential_routes(router.target, args.requests))
        print(f"routing decision, in router: {percentiles(inside)}   (embed + Score RPC + threshold)")
        print(f"routing decision, caller:    {percentiles(outside)}   (adds the caller's Route RPC)")
        rate = asyncio.run(concurrent_routes(router.target, args.requests, args.concurrency))
        print(f"decisions/s at concurrency {args.concurrency}: {rate:,.0f}")
        eps = asyncio.run(score_throughput(scorer.target, 256, 400, 4))
        print(f"Score throughput at batch 256: {eps:,.0f} embeddings/s")
        http_url = f"http://127.0.0.1:{http_port(router)}/v1"
        over_grpc, over_http = asyncio.run(frontdoor_vs_grpc(router.target, http_url, args.frontdoor_requests))
        print(f"answered Route over gRPC:    {percentiles(over_grpc)}   (to a loopback fake endpoint)")
        print(f"same over the HTTP door:     {percentiles(over_http)}   (POST /v1/chat/completions)")
        added = float(np.percentile(over_http, 50) - np.percentile(over_grpc, 50))
        print(f"front door p50 added: {added:+.3f} ms   (target <= 1 ms)")
        off, on = shadow_latency(scorer.target, args.shadow_requests, args.endpoint_delay_ms)
        print(
            f"answered Route p50, caller, endpoints answering in {args.endpoint_delay_ms:g} ms: "
            f"shadow rate 0 {off:.2f} ms, rate 1 {on:.2f} ms ({(on / off - 1) * 100:+.1f}%; acceptance: within 5%)"
        )
    finally:
        codes = pair.stop()
        parent.send("stop")
        if parent.poll(10):
            parent.recv()
        fakes.join(10)
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
