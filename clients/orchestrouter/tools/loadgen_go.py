"""The compiled load generator (clients/go/cmd/loadgen, built by `make loadgen-go` into
build/go/bin/loadgen) run from Python: the same closed loop as loadgen.closed_loop, at a fraction
of the client CPU, so that the client takes less of the cores it shares with what it measures.

go_closed_loop() starts the binary, writes loadgen.QUERIES to its stdin (the prompts stay one list),
and when it reports the window opening and closing reads the CPU of the watched server trees and of
the binary itself (the client) with loadgen's process_tree/cpu_seconds; its last line carries the
latencies and errors, and the result is the same LoadResult the Python client returns.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrouter.tools.loadgen import QUERIES, LoadResult, cpu_seconds, process_tree

# Where `make loadgen-go` writes the binary (the repository's build/ folder); the environment may name another.
BINARY_ENV = "ORCHESTROUTER_LOADGEN_GO"
DEFAULT_BINARY = Path(__file__).resolve().parents[3] / "build" / "go" / "bin" / "loadgen"
CLIENTS = ("go", "python")


class GoLoadError(RuntimeError):
    """The binary ended without a result; the message carries its stderr."""


def binary_path() -> Path:
    return Path(os.environ.get(BINARY_ENV) or DEFAULT_BINARY)


def choose_client(requested: str | None) -> tuple[str, str]:
    """(client, a line saying which measures): requested "go" or "python", or None for the Go one
    when it is built and the Python one otherwise."""
    binary = binary_path()
    built = binary.is_file() and os.access(binary, os.X_OK)
    if requested == "python":
        return "python", "client: Python (orchestrouter.tools.loadgen, asked for with --client python)"
    if built:
        return "go", f"client: Go ({binary})"
    if requested == "go":
        raise GoLoadError(f"the Go load generator is not built at {binary}: run `make loadgen-go`")
    return "python", f"client: Python (orchestrouter.tools.loadgen): the Go load generator is not built at {binary}"


def route_args(target: str, dry_run: bool) -> list[str]:
    """The binary's arguments for gRPC Route at target (answered, or dry run)."""
    return ["--grpc", target, *(["--dry-run"] if dry_run else [])]


def chat_args(url: str, model: str, headers: Mapping[str, str] | None = None) -> list[str]:
    """The binary's arguments for chat completions POSTed to url."""
    args = ["--http", url, "--model", model]
    for key, value in (headers or {}).items():
        args += ["--header", f"{key}:{value}"]
    return args


async def go_closed_loop(
    args: list[str],
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.5,
    watch: Mapping[str, int] | None = None,
    max_warmup_s: float = 30.0,
    drain_s: float = 60.0,
    binary: Path | None = None,
) -> LoadResult:
    """loadgen.closed_loop's load, run by the binary with args (route_args or chat_args)."""
    # A thread with a plain Popen rather than asyncio's subprocess API: asyncio's child watcher
    # could report a child that something else in the process reaped as exited with 255.
    command = [
        str(binary or binary_path()),
        *args,
        f"--concurrency={concurrency}",
        f"--duration={duration_s}",
        f"--warmup={warmup_s}",
        f"--max-warmup={max_warmup_s}",
        f"--drain={drain_s}",
    ]
    return await asyncio.to_thread(_run, command, concurrency, dict(watch or {}))


def _run(command: list[str], concurrency: int, watch: dict[str, int]) -> LoadResult:
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr) as proc,
    ):
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(QUERIES).encode())
            proc.stdin.close()
            trees: dict[str, list[int]] = {}
            cpu: dict[str, float] = {}
            outcome: dict[str, Any] = {}
            for line in proc.stdout:
                message = json.loads(line)
                if message.get("event") == "open":
                    trees = {"client": process_tree(proc.pid)}
                    trees.update({name: process_tree(pid) for name, pid in watch.items()})
                    cpu = {name: -cpu_seconds(tree) for name, tree in trees.items()}
                elif message.get("event") == "close":
                    cpu = {name: cpu[name] + cpu_seconds(tree) for name, tree in trees.items()}
                else:
                    outcome = message
            proc.wait()
        finally:
            if proc.poll() is None:  # the caller gave up (an exception here, or KeyboardInterrupt)
                proc.kill()
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace").strip()
    if proc.returncode or "window_s" not in outcome or "client" not in cpu:
        raise GoLoadError(f"the Go load generator exited with {proc.returncode} without a result: {errors[-600:]}")
    client_cpu_s = cpu.pop("client")
    return LoadResult(
        concurrency=concurrency,
        window_s=float(outcome["window_s"]),
        latencies_ms=[float(ms) for ms in outcome["latencies_ms"]],
        errors=int(outcome["errors"]),
        client_cpu_s=client_cpu_s,
        server_cpu_s=cpu,
        first_error=str(outcome["first_error"]),
    )
