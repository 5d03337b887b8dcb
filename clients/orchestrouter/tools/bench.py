"""`make bench`: routing-decision latency and throughput, and Score throughput, printed.

Starts the scorer and the router as processes (like `make run`), then measures from a client
process: sequential dry-run Route latency (p50/p99, as the caller sees it and inside the
router), dry-run Route throughput at a given concurrency, Score throughput at batch 256, the
local embedder's own time, and the caller's answered-Route p50 at shadow rate 0 against rate 1
(orchestrouter.tools.shadow_bench). These machines are noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import numpy as np
from grpc import aio

from orchestrouter.router.embedders import WordLlamaEmbedder
from orchestrouter.tools.launcher import start_pair
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
    pair = start_pair(scorer_env={"ORCHESTROUTER_SCORER_LISTEN": args.scorer_listen})
    router, scorer = pair.router, pair.scorer
    try:
        outside, inside = asyncio.run(sequential_routes(router.target, args.requests))
        print(f"routing decision, in router: {percentiles(inside)}   (embed + Score RPC + threshold)")
        print(f"routing decision, caller:    {percentiles(outside)}   (adds the caller's Route RPC)")
        rate = asyncio.run(concurrent_routes(router.target, args.requests, args.concurrency))
        print(f"decisions/s at concurrency {args.concurrency}: {rate:,.0f}")
        eps = asyncio.run(score_throughput(scorer.target, 256, 400, 4))
        print(f"Score throughput at batch 256: {eps:,.0f} embeddings/s")
        off, on = shadow_latency(scorer.target, args.shadow_requests, args.endpoint_delay_ms)
        print(
            f"answered Route p50, caller, endpoints answering in {args.endpoint_delay_ms:g} ms: "
            f"shadow rate 0 {off:.2f} ms, rate 1 {on:.2f} ms ({(on / off - 1) * 100:+.1f}%; acceptance: within 5%)"
        )
    finally:
        codes = pair.stop()
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
