"""`make bench`: what the router adds over a direct call to its model endpoint, at concurrency 1, 32
and 128, and the figures around it, printed in one run.

Starts a lean loopback OpenAI-compatible endpoint (orchestrouter.tools.loopback_endpoint) in its
own process, then the scorer and the router as processes (like `make run`), the router's tiers
both pointed at that endpoint and its decision log written to a file. A closed-loop load (the
Go load generator through orchestrouter.tools.loadgen_go when it is built, else
orchestrouter.tools.loadgen; --client picks) then runs, in interleaved rounds (the order of the
systems turns each round, so drift on the machine falls on all alike), against:
- floor: the endpoint called directly (OpenAI chat completion over HTTP/1.1);
- route: gRPC Route, answered (the router dispatches to the endpoint);
- dry run: gRPC Route with dry_run (the decision only);
- front door: the router's OpenAI-compatible HTTP front door, answered.
For each it prints the medians over rounds of: requests/s, latency p50/p95/p99, the latency added
over the floor in the same round, and CPU per request of the router, the scorer and the load
generator (from /proc, over the timed window); then RSS of the router and the scorer.

Then, from the same run: the local embedder alone, Score throughput at batch 256, the front door's
added p50 over gRPC, what tracing on costs (Route with dispatch at c=1 and 32 against a second
scorer and router exporting every span and metric over OTLP to orchestrouter.tools.otlp_sink, a
collector in its own process that only counts), and the answered-Route p50 at shadow rate 0
against 1. --workers N runs the router with ORCHESTROUTER_ROUTER_WORKERS=N; --compare-workers
also starts a router with 2 workers beside one with 1 (same scorer) and compares them at c=128 in interleaved rounds.
These machines are noisy: compare figures from one run, as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from grpc import aio

from orchestrouter.tools.launcher import Service, http_port, start, start_pair
from orchestrouter.tools.loadgen import (
    QUERIES,
    GrpcRoute,
    HttpChat,
    LoadResult,
    closed_loop,
    process_tree,
    rss_mb,
)
from orchestrouter.tools.loadgen_go import CLIENTS, chat_args, choose_client, go_closed_loop, route_args
from orchestrouter.tools.shadow_bench import shadow_latency
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc

WORKERS_ENV = "ORCHESTROUTER_ROUTER_WORKERS"
SCORE_LINGER_ENV = "ORCHESTROUTER_SCORE_LINGER_MS"
_ENDPOINT_PORT = re.compile(r"loopback endpoint on .* \(port (\d+)\)")
_SINK_PORT = re.compile(r"otlp sink on .* \(port (\d+)\)")


# --- The loopback endpoint's process. ---


@dataclass
class ChildTool:
    """ChildTool: a tool module running in a child process, the port its first line named, and (once
    it is stopped) what else it printed."""

    process: subprocess.Popen
    port: int
    output: str = ""


@contextmanager
def child_tool(args: list[str], port_line: re.Pattern[str], what: str) -> Iterator[ChildTool]:
    """Runs `python -m ARGS` in a child process, waits for its first line (port_line names the port
    in it), yields it, then stops it (SIGTERM; SIGKILL after 10 s) and keeps the rest of its output."""
    proc = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True)
    tool: ChildTool | None = None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = port_line.search(line)
        if not match:
            raise RuntimeError(f"{what} did not start: {line!r}")
        tool = ChildTool(proc, int(match.group(1)))
        yield tool
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if tool is not None:
            tool.output = (output or "").strip()


@contextmanager
def loopback_endpoint(delay_ms: float = 0.0, embedding_dim: int = 1536) -> Iterator[tuple[int, int]]:
    """Runs orchestrouter.tools.loopback_endpoint in a child process; yields (pid, port)."""
    args = ["orchestrouter.tools.loopback_endpoint", "--delay-ms", str(delay_ms), "--embedding-dim", str(embedding_dim)]
    with child_tool(args, _ENDPOINT_PORT, "the loopback endpoint") as endpoint:
        yield endpoint.process.pid, endpoint.port


@contextmanager
def otlp_sink() -> Iterator[tuple[subprocess.Popen, int]]:
    """Runs orchestrouter.tools.otlp_sink (an OTLP/gRPC collector that only counts) in a child
    process; yields (process, port). On exit it is stopped and what it received is printed."""
    sink: ChildTool | None = None
    try:
        with child_tool(["orchestrouter.tools.otlp_sink"], _SINK_PORT, "the OTLP sink") as sink:
            yield sink.process, sink.port
    finally:
        if sink is not None:
            print(f"  (the OTLP sink received {sink.output})", flush=True)


# --- Rounds of loads, and their medians. ---

Load = Callable[[int, float, float], Coroutine[Any, Any, LoadResult]]


@dataclass
class Cell:
    """Cell: one system at one concurrency, a LoadResult per round."""

    system: str
    concurrency: int
    rounds: list[LoadResult]

    def rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds)

    def percentile(self, q: float) -> float:
        return statistics.median(r.percentile(q) for r in self.rounds)

    def cpu_ms(self, name: str) -> float:
        return statistics.median(r.cpu_ms_per_request(name) for r in self.rounds)


def run_rounds(
    loads: dict[str, Load], concurrencies: list[int], rounds: int, duration_s: float, warmup_s: float
) -> dict[tuple[str, int], Cell]:
    """Every system at every concurrency, once a round; the systems' order turns each round."""
    cells = {(s, c): Cell(s, c, []) for s in loads for c in concurrencies}
    names = list(loads)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for c in concurrencies:
            for system in order:
                result = asyncio.run(loads[system](c, duration_s, warmup_s))
                cells[system, c].rounds.append(result)
                if result.errors or not result.completed:
                    what = f"{result.errors} errors" if result.errors else "no answers in the window"
                    print(f"  ! {system} c={c}: {what} ({result.first_error})", flush=True)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return cells


def added(cells: dict[tuple[str, int], Cell], system: str, c: int, q: float) -> float:
    """Median over rounds of (system's percentile q - the floor's, in the same round)."""
    mine, floor = cells[system, c].rounds, cells["floor", c].rounds
    return statistics.median(a.percentile(q) - b.percentile(q) for a, b in zip(mine, floor, strict=True))


def print_table(
    cells: dict[tuple[str, int], Cell], systems: list[str], concurrencies: list[int], cpu: list[str], client: str
) -> None:
    width = max(12, *(len(system) for system in systems))
    header = (
        f"{'system':<{width}} {'c':>4} {'req/s':>9} {'p50':>8} {'p95':>8} {'p99':>8}   "
        f"{'added p50':>9} {'p95':>8} {'p99':>8}   CPU ms/req: " + "  ".join(f"{n:>7}" for n in cpu)
    ) + f"   ({client} client)"
    print(header)
    for c in concurrencies:
        for s in systems:
            cell = cells[s, c]
            row = f"{s:<{width}} {c:>4} {cell.rps():>9,.0f} " + " ".join(
                f"{cell.percentile(q):>8.3f}" for q in (50, 95, 99)
            )
            if s == "floor":
                row += "   " + " " * 27
            else:
                row += "   " + " ".join(f"{added(cells, s, c, q):>{9 if q == 50 else 8}.3f}" for q in (50, 95, 99))
            row += "               " + "  ".join(f"{cell.cpu_ms(n):>7.3f}" for n in cpu)
            print(row)
    print("(latencies in ms; 'added' = minus the floor's in the same round; CPU = per completed request)")


# --- The loads: by the Go load generator (loadgen_go) or the Python one (loadgen). ---


def chat_load(
    url: str, model: str, watch: dict[str, int], headers: dict[str, str] | None = None, client: str = "go"
) -> Load:
    async def load(c: int, duration_s: float, warmup_s: float) -> LoadResult:
        if client == "go":
            return await go_closed_loop(chat_args(url, model, headers), c, duration_s, warmup_s, watch)
        async with HttpChat(url, model, headers) as chat:
            return await closed_loop(chat, c, duration_s, warmup_s, watch)

    return load


def route_load(target: str, dry_run: bool, watch: dict[str, int], client: str = "go") -> Load:
    async def load(c: int, duration_s: float, warmup_s: float) -> LoadResult:
        if client == "go":
            return await go_closed_loop(route_args(target, dry_run), c, duration_s, warmup_s, watch)
        async with GrpcRoute(target, dry_run) as route:
            return await closed_loop(route, c, duration_s, warmup_s, watch)

    return load


def add_client_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        help="the load generator: go (build/go/bin/loadgen, `make loadgen-go`) or python; default go when built",
    )


# --- The figures around the table. ---


def embed_latency_ms(n: int) -> float:
    from orchestrouter.router.embedders import WordLlamaEmbedder

    embedder = WordLlamaEmbedder()
    samples = []
    for i in range(n):
        t = time.perf_counter()
        embedder.embed([QUERIES[i % len(QUERIES)]])
        samples.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(samples, 50))


async def score_throughput(target: str, batch: int, n_batches: int, concurrency: int) -> float:
    matrix = np.random.default_rng(0).normal(size=(batch, 256)).astype("<f4")
    request = scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=matrix.tobytes(), rows=batch, dim=256))
    async with aio.insecure_channel(target) as channel:
        stub = scorer_pb2_grpc.ScorerServiceStub(channel)
        for _ in range(10):
            await stub.Score(request)
        counter = iter(range(n_batches))

        async def worker() -> None:
            for _ in counter:
                await stub.Score(request)

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n_batches * batch / (time.perf_counter() - t)


def worker_note(router: Service, workers: int) -> str:
    found = len(process_tree(router.process.pid))
    if workers > 1 and found == 1:
        return f"(asked for {workers} workers: this router runs one process, {WORKERS_ENV} is not implemented here)"
    return f"({found} router process{'es' if found > 1 else ''})"


def compare_workers(
    scorer: Service, router_env: dict[str, str], rounds: int, duration_s: float, warmup_s: float, client: str
) -> None:
    """Routers with 1 and 2 workers on one scorer, interleaved at c=128: requests/s and the ratio."""
    env = {
        **router_env,
        "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
        "ORCHESTROUTER_SCORER_TARGET": scorer.target,
    }
    log = router_env["ORCHESTROUTER_DECISION_LOG"]
    routers = {
        w: start(
            "serve-router",
            {**env, WORKERS_ENV: str(w), "ORCHESTROUTER_DECISION_LOG": f"{log}.w{w}"},
            name=f"router-w{w}",
        )
        for w in (1, 2)
    }
    try:
        for w, router in routers.items():
            print(f"workers={w}: {worker_note(router, w)}")
        for dry_run in (False, True):
            loads = {
                f"workers={w}": route_load(
                    r.target, dry_run, {"router": r.process.pid, "scorer": scorer.process.pid}, client
                )
                for w, r in routers.items()
            }
            cells = run_rounds(loads, [128], rounds, duration_s, warmup_s)
            one, two = (cells[f"workers={w}", 128].rps() for w in (1, 2))
            what = "dry run" if dry_run else "Route with dispatch"
            print(
                f"{what} at c=128: workers=1 {one:,.0f} req/s, workers=2 {two:,.0f} req/s: "
                f"x{two / one:.2f} (acceptance: >= 1.6; {client} client)"
            )
    finally:
        for router in routers.values():
            router.stop()


def tracing_cost(
    untraced: Service,
    untraced_scorer: Service,
    router_env: dict[str, str],
    rounds: int,
    duration_s: float,
    warmup_s: float,
    client: str,
) -> None:
    """Route with dispatch on the pair measured above against a second pair whose scorer and router
    export every span (and their metrics) over OTLP to a sink process, interleaved at c=1 and 32."""
    with otlp_sink() as (_, sink_port):
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}
        log = router_env["ORCHESTROUTER_DECISION_LOG"]
        traced = start_pair(
            scorer_env=otel,
            router_env={
                **router_env,
                **otel,
                "ORCHESTROUTER_DECISION_LOG": f"{log}.traced",
                "ORCHESTROUTER_HTTP_LISTEN": "",
            },
        )
        try:
            pairs = {"untraced": (untraced, untraced_scorer), "traced": (traced.router, traced.scorer)}
            loads = {
                name: route_load(
                    router.target, False, {"router": router.process.pid, "scorer": scorer.process.pid}, client
                )
                for name, (router, scorer) in pairs.items()
            }
            cells = run_rounds(loads, [1, 32], rounds, duration_s, warmup_s)
        finally:
            traced.stop()
    for c in (1, 32):
        off, on = cells["untraced", c], cells["traced", c]
        cpu_off = off.cpu_ms("router") + off.cpu_ms("scorer")
        cpu_on = on.cpu_ms("router") + on.cpu_ms("scorer")
        print(
            f"tracing on, Route with dispatch at c={c}: p50 {off.percentile(50):.3f} -> {on.percentile(50):.3f} ms "
            f"({on.percentile(50) - off.percentile(50):+.3f}), CPU per request router + scorer "
            f"{cpu_off:.3f} -> {cpu_on:.3f} ms ({cpu_on - cpu_off:+.3f}; {cpu_on / cpu_off:.2f}x)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are their medians")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds counted per load")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds not counted before each load")
    parser.add_argument("--concurrency", type=int, action="append", help="repeatable; default 1, 32 and 128")
    parser.add_argument("--workers", type=int, default=1, help=f"the router's {WORKERS_ENV}")
    parser.add_argument("--compare-workers", action="store_true", help="workers=1 against 2 at c=128 (only that)")
    parser.add_argument(
        "--score-linger-ms", type=float, help=f"the router's {SCORE_LINGER_ENV} (default: the router's own)"
    )
    parser.add_argument("--endpoint-delay-ms", type=float, default=0.0, help="the loopback endpoint's time to answer")
    parser.add_argument("--scorer-listen", default="127.0.0.1:0", help="e.g. unix:/tmp/orchestrouter-scorer.sock")
    parser.add_argument("--shadow-requests", type=int, default=300, help="answered Route calls per shadow rate")
    parser.add_argument("--shadow-delay-ms", type=float, default=20.0, help="the shadow figure's endpoint delay")
    parser.add_argument("--no-extras", action="store_true", help="only the table")
    add_client_option(parser)
    args = parser.parse_args(argv)
    concurrencies = args.concurrency or [1, 32, 128]
    client, client_note = choose_client(args.client)
    print(client_note, flush=True)

    if not args.no_extras and not args.compare_workers:
        print(f"local embedder alone: p50 {embed_latency_ms(2000):.3f} ms", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="orchestrouter-bench-") as tmp,
        loopback_endpoint(args.endpoint_delay_ms) as (endpoint_pid, endpoint_port),
    ):
        base_url = f"http://127.0.0.1:{endpoint_port}/v1"
        router_env = {
            "ORCHESTROUTER_HTTP_LISTEN": "127.0.0.1:0",
            "ORCHESTROUTER_SMALL_BASE_URL": base_url,
            "ORCHESTROUTER_PREMIUM_BASE_URL": base_url,
            "ORCHESTROUTER_DECISION_LOG": os.path.join(tmp, "decisions.jsonl"),
        }
        if args.workers != 1:
            router_env[WORKERS_ENV] = str(args.workers)
        if args.score_linger_ms is not None:
            router_env[SCORE_LINGER_ENV] = f"{args.score_linger_ms:g}"
        pair = start_pair(scorer_env={"ORCHESTROUTER_SCORER_LISTEN": args.scorer_listen}, router_env=router_env)
        router, scorer = pair.router, pair.scorer
        try:
            if args.compare_workers:
                pair.router.stop()
                compare_workers(scorer, router_env, args.rounds, args.duration, args.warmup, client)
                return 0
            print(
                f"floor: loopback endpoint answering after {args.endpoint_delay_ms:g} ms; router "
                f"{worker_note(router, args.workers)}, Score linger "
                f"{'default' if args.score_linger_ms is None else f'{args.score_linger_ms:g} ms'}; "
                f"{args.rounds} rounds x {args.duration:g} s per load",
                flush=True,
            )
            watch = {"router": router.process.pid, "scorer": scorer.process.pid, "endpoint": endpoint_pid}
            front_url = f"http://127.0.0.1:{http_port(router)}/v1/chat/completions"
            loads = {
                "floor": chat_load(base_url + "/chat/completions", "loopback", watch, client=client),
                "route": route_load(router.target, False, watch, client),
                "dry run": route_load(router.target, True, watch, client),
                "front door": chat_load(front_url, "orchestrouter-auto", watch, client=client),
            }
            cells = run_rounds(loads, concurrencies, args.rounds, args.duration, args.warmup)
            print_table(cells, list(loads), concurrencies, ["router", "scorer", "client", "endpoint"], client)
            print(
                f"RSS after the loads: router {rss_mb(router.process.pid):.0f} MiB, "
                f"scorer {rss_mb(scorer.process.pid):.0f} MiB"
            )
            if args.no_extras:
                return 0
            c0 = concurrencies[0]
            door = statistics.median(
                a.percentile(50) - b.percentile(50)
                for a, b in zip(cells["front door", c0].rounds, cells["route", c0].rounds, strict=True)
            )
            print(f"front door p50 added over gRPC Route at c={c0}: {door:+.3f} ms   (target <= 1 ms)")
            eps = asyncio.run(score_throughput(scorer.target, 256, 200, 4))
            print(f"Score throughput at batch 256: {eps:,.0f} embeddings/s", flush=True)
            tracing_cost(router, scorer, router_env, args.rounds, args.duration, args.warmup, client)
            off, on = shadow_latency(scorer.target, args.shadow_requests, args.shadow_delay_ms)
            print(
                f"answered Route p50, caller, endpoints answering in {args.shadow_delay_ms:g} ms: "
                f"shadow rate 0 {off:.2f} ms, rate 1 {on:.2f} ms ({(on / off - 1) * 100:+.1f}%; acceptance: within 5%)"
            )
        finally:
            codes = pair.stop()
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
