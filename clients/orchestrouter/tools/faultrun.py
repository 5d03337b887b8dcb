"""`make faults`: the fault run. Route calls under faults, with what was lost, failed and held, printed.

Starts the scorer and the router as processes (orchestrouter.tools.launcher) and two loopback
OpenAI-compatible fakes in a child process, then sends N Route calls (no caller deadline, so the
router's default applies) at a given concurrency while:
- the premium fake answers 30% of its calls 503 and leaves 10% hanging (never answering);
- the scorer is killed (SIGKILL) once a third of the calls are done and restarted on its port;
- the decision log is written to /dev/full (every write fails with ENOSPC).
It prints: answered, lost (not answered), INTERNAL, status counts, fallbacks, degraded, decision-log
failures (as the router's output reports them), latency p50/p99/max against the bound the
configured timeouts set, and the router's RSS after warm-up, every tenth of the run and at the
end. Exit code 1 when an acceptance figure is missed (lost or INTERNAL above 0, p99 past the
bound, RSS growth >= 10%).

The warm-up (same faults, scorer left alone, not counted) is 10,000 calls by default: with a
distinct prompt per call the router's RSS climbs by some 25 MB over the first ~10,000 calls and
then stays flat (30,000 calls measured), which is consistent with the embedder's tokenizer
filling its bounded word cache; with repeated prompts (--repeat-prompts) it does not climb at
all. The baseline is taken after that, so the growth figure measures what a leak would add.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import numpy as np
from grpc import aio

from orchestrouter.tools.fake_wire import http_response, read_request
from orchestrouter.tools.launcher import Pair, Service, start, start_pair
from orchestrouter.v1 import router_pb2, router_pb2_grpc

QUERIES = [
    "What is the capital of France?",
    "hi!",
    "Write a SQL query that finds duplicate emails in a users table.",
    "Prove that there are infinitely many primes.",
    "Give me three names for a bakery.",
    "How do I reverse a linked list in Java?",
    "Summarise the causes of the First World War in two sentences.",
    "Derive the closed form of the Fibonacci sequence and prove it by induction.",
]
# The premium fake's answer to call i: 503 for 3 in 10, a hang for 1 in 10, else an answer.
PREMIUM_SCHEDULE = ("503", "503", "503", "hang", "ok", "ok", "ok", "ok", "ok", "ok")
# Short tier timeouts by default so hung calls end in seconds (--tier-timeout-s 30 --pool-timeout-s 1
# runs with the router's own defaults); the default deadline is the router's own.
TIER_TIMEOUT_S = 2.0
POOL_TIMEOUT_S = 0.5
# The router's defaults: ORCHESTROUTER_MAX_RETRIES, ORCHESTROUTER_RETRY_MAX_DELAY_S, ORCHESTROUTER_DEFAULT_DEADLINE_S.
MAX_RETRIES, RETRY_MAX_DELAY_S, DEFAULT_DEADLINE_S = 2, 1.0, 60.0


def latency_bound_s(tier_timeout_s: float) -> float:
    """The longest a call can take by the configuration: every try of the routed tier timing out,
    the backoffs between them, then the fallback tier's whole timeout; never past the deadline."""
    tries = (MAX_RETRIES + 1) * tier_timeout_s + MAX_RETRIES * RETRY_MAX_DELAY_S
    return min(DEFAULT_DEADLINE_S, tries + tier_timeout_s)


# --- The fakes: a child process serving two minimal chat-completions endpoints on loopback. ---


def _completion(body: dict, name: str) -> bytes:
    words = f"{name}: the answer is 42.".split()
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return json.dumps(
        {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": " ".join(words)}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(words), "total_tokens": prompt + len(words)},
        }
    ).encode()


async def _serve_fakes(
    ports: Connection,
    stop: asyncio.Event,
    counts: dict[str, collections.Counter],
    premium_schedule: tuple[str, ...] = PREMIUM_SCHEDULE,
) -> None:
    def handler(name: str, schedule: tuple[str, ...]):
        calls = 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal calls
            try:
                while request := await read_request(reader):
                    body = json.loads(request[2] or b"{}")
                    what = schedule[calls % len(schedule)]
                    calls += 1
                    counts[name][what] += 1
                    if what == "hang":  # until the router gives up and closes the connection
                        await reader.read()
                        return
                    status, data = (503, b'{"error":{"message":"overloaded"}}') if what == "503" else (200, None)
                    writer.write(http_response(status, data or _completion(body, name)))
                    await writer.drain()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        return serve

    small = await asyncio.start_server(handler("small", ("ok",)), "127.0.0.1", 0)
    premium = await asyncio.start_server(handler("premium", premium_schedule), "127.0.0.1", 0)
    ports.send((small.sockets[0].getsockname()[1], premium.sockets[0].getsockname()[1]))
    await stop.wait()
    small.close()
    premium.close()


def run_fakes(conn: Connection, premium_schedule: tuple[str, ...] = PREMIUM_SCHEDULE) -> None:
    """The fakes' process: sends their ports, serves until told to stop, then sends the call counts.

    premium_schedule: the premium fake's answers in turn ("ok", "503", "hang"); the bench passes ("ok",)."""
    counts: dict[str, collections.Counter] = {"small": collections.Counter(), "premium": collections.Counter()}

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), stop.set)  # any message from the parent means stop
        await _serve_fakes(conn, stop, counts, premium_schedule)

    asyncio.run(main())
    conn.recv()
    conn.send({name: dict(c) for name, c in counts.items()})


# --- The load. ---


@dataclass
class Results:
    """Results: what each Route call came back with."""

    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies_ms: list[float] = field(default_factory=list)
    fallbacks: int = 0
    degraded: int = 0
    premium_routed: int = 0
    done: int = 0


def route_request(i: int, distinct: bool = True) -> router_pb2.RouteRequest:
    text = f"{QUERIES[i % len(QUERIES)]} (#{i})" if distinct else QUERIES[i % len(QUERIES)]
    return router_pb2.RouteRequest(messages=[router_pb2.ChatMessage(role="user", content=text)])


async def load(
    target: str, total: int, concurrency: int, results: Results, first: int = 0, distinct: bool = True
) -> None:
    """total Route calls, concurrency at a time, none with a deadline (the router's default applies)."""
    next_index = iter(range(first, first + total))
    async with aio.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)

        async def worker() -> None:
            for i in next_index:
                started = time.perf_counter()
                try:
                    reply = await stub.Route(route_request(i, distinct))
                    results.statuses["OK"] += 1
                    d = reply.decision
                    results.fallbacks += d.fell_back
                    results.degraded += d.degraded
                    results.premium_routed += d.routed_tier == router_pb2.TIER_PREMIUM
                except aio.AioRpcError as exc:
                    results.statuses[exc.code().name] += 1
                results.latencies_ms.append((time.perf_counter() - started) * 1000)
                results.done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def kill_and_restart_scorer(pair: Pair, results: Results, kill_at: int, scorer_env: dict) -> str:
    """SIGKILLs the scorer once kill_at calls are done, restarts it on the same port; says when."""
    while results.done < kill_at:
        await asyncio.sleep(0.05)
    port = pair.scorer.port
    pair.scorer.process.send_signal(signal.SIGKILL)
    pair.scorer.process.wait()
    killed_at = results.done
    env = {**scorer_env, "ORCHESTROUTER_SCORER_LISTEN": f"127.0.0.1:{port}"}
    pair.scorer = await asyncio.to_thread(start, "serve-scorer", env, "scorer")
    return f"scorer killed after {killed_at} calls, serving again after {results.done}"


async def sample_rss(service: Service, results: Results, total: int, every: int) -> list[float]:
    """The router's RSS each time another `every` calls are done, to tell a plateau from a leak."""
    samples, mark = [], every
    while mark <= total:
        while results.done < mark:
            await asyncio.sleep(0.05)
        samples.append(rss_mb(service))
        mark += every
    return samples


# RouteObserver's throttled warning: "cannot record a request (...) (N times since the last report): ...".
_RECORD_FAILURES = re.compile(r"cannot record a request .*\((\d+) times since the last report\)")


def rss_mb(service: Service) -> float:
    with open(f"/proc/{service.process.pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def log_failures(lines: list[str]) -> int:
    """Requests the router could not record, as its throttled warnings count them (the last at shutdown)."""
    return sum(int(m.group(1)) for line in lines if (m := _RECORD_FAILURES.search(line)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10_000, help="calls before the RSS baseline (not counted)")
    parser.add_argument("--decision-log", default="/dev/full")
    parser.add_argument("--tier-timeout-s", type=float, default=TIER_TIMEOUT_S)
    parser.add_argument("--pool-timeout-s", type=float, default=POOL_TIMEOUT_S)
    parser.add_argument(
        "--repeat-prompts", action="store_true", help="send the same 8 prompts over and over (default: each distinct)"
    )
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    fakes = ctx.Process(target=run_fakes, args=(child,), daemon=True)
    fakes.start()
    small_port, premium_port = parent.recv()
    scorer_env: dict[str, str] = {}
    router_env = {
        "ORCHESTROUTER_SMALL_BASE_URL": f"http://127.0.0.1:{small_port}/v1",
        "ORCHESTROUTER_PREMIUM_BASE_URL": f"http://127.0.0.1:{premium_port}/v1",
        "ORCHESTROUTER_SMALL_API_KEY": "sk-faultrun-small-000000",
        "ORCHESTROUTER_PREMIUM_API_KEY": "sk-faultrun-premium-000000",
        "ORCHESTROUTER_THRESHOLD": "0.2",
        "ORCHESTROUTER_DECISION_LOG": args.decision_log,
    }
    for tier in ("SMALL", "PREMIUM"):
        router_env[f"ORCHESTROUTER_{tier}_TIMEOUT_S"] = str(args.tier_timeout_s)
        router_env[f"ORCHESTROUTER_{tier}_FIRST_TOKEN_TIMEOUT_S"] = str(args.tier_timeout_s)
        router_env[f"ORCHESTROUTER_{tier}_POOL_TIMEOUT_S"] = str(args.pool_timeout_s)
    pair = start_pair(scorer_env, router_env)
    try:
        rss_launch = rss_mb(pair.router)
        warm = Results()
        asyncio.run(load(pair.router.target, args.warmup, args.concurrency, warm, 10**6, not args.repeat_prompts))
        rss_start = rss_mb(pair.router)
        results = Results()

        async def run() -> tuple[str, list[float]]:
            chaos = asyncio.create_task(kill_and_restart_scorer(pair, results, args.requests // 3, scorer_env))
            rss = asyncio.create_task(sample_rss(pair.router, results, args.requests, max(1, args.requests // 10)))
            await load(pair.router.target, args.requests, args.concurrency, results, 0, not args.repeat_prompts)
            return await chaos, await rss

        started = time.perf_counter()
        chaos_line, rss_samples = asyncio.run(run())
        wall_s = time.perf_counter() - started
        rss_end = rss_mb(pair.router)
    finally:
        pair.stop(30)
        parent.send("stop")
        calls = parent.recv() if parent.poll(10) else {}
        fakes.join(10)

    bound_s = latency_bound_s(args.tier_timeout_s)
    lat = np.asarray(results.latencies_ms)
    p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
    answered = results.statuses["OK"]
    lost = args.requests - answered
    internal = results.statuses["INTERNAL"] + results.statuses["UNKNOWN"]
    growth = (rss_end - rss_start) / rss_start
    print(
        f"fault run: {args.requests} Route calls at concurrency {args.concurrency},"
        f" {wall_s:.1f} s ({args.requests / wall_s:.0f}/s)"
    )
    print(f"  faults: premium 503 30%, hang 10%; {chaos_line}; decision log -> {args.decision_log}")
    print(f"  answered {answered}  lost {lost}  INTERNAL {internal}")
    print(f"  statuses {dict(results.statuses)}")
    print(f"  routed premium {results.premium_routed}  fallbacks {results.fallbacks}  degraded {results.degraded}")
    print(f"  endpoint calls (warm-up included) {calls}")
    unrecorded = log_failures(pair.router.log_lines)
    logged = 0
    if os.path.isfile(args.decision_log):
        with open(args.decision_log, encoding="utf-8") as f:
            logged = sum(1 for _ in f)
    # Every answered request (the warm-up's too) is either in the decision log or counted as not recorded.
    answered_all = answered + warm.statuses["OK"]
    accounted = logged + unrecorded >= answered_all
    print(
        f"  answered (warm-up included) {answered_all}: decision-log lines {logged}, requests the router"
        f" counted as not recorded {unrecorded}{'' if accounted else '  (some answers neither logged nor counted)'}"
    )
    print(
        f"  latency p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {lat.max():.1f} ms; configured: tier timeout"
        f" {args.tier_timeout_s:g} s, pool wait {args.pool_timeout_s:g} s; bound {bound_s:g} s"
    )
    print(
        f"  router RSS: {rss_launch:.1f} MB at launch, {rss_start:.1f} MB after warm-up,"
        f" {rss_end:.1f} MB at the end ({growth:+.1%})"
    )
    print("  router RSS every tenth of the run (MB): " + " ".join(f"{mb:.0f}" for mb in rss_samples))
    ok = lost == 0 and internal == 0 and accounted and p99 < bound_s * 1000 and growth < 0.10
    print("  PASS" if ok else "  FAIL: lost, INTERNAL, unrecorded answers, p99 or RSS growth past its bound")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
