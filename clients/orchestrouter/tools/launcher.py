"""Starts the scorer and the router as child processes on free ports and waits until SERVING:
start() for one service, start_pair() for a scorer and a router pointed at it, and run_to_exit()
for a service that is expected to refuse to start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_LISTENING = re.compile(r"listening on .* \(port (\d+)\)")
# The router's line for its HTTP front door (ORCHESTROUTER_HTTP_LISTEN).
_HTTP_LISTENING = re.compile(r"OpenAI-compatible HTTPS? on .* \(port (\d+)\)")


class LaunchError(RuntimeError):
    """A service exited or never became ready; the message carries its last log lines."""


@dataclass
class Service:
    """Service: a running child process, its port and its captured log lines."""

    name: str
    process: subprocess.Popen
    port: int
    log_lines: list[str] = field(default_factory=list)
    # Set when the service listens on a unix socket ("unix:PATH") rather than a TCP port.
    unix_address: str = ""

    @property
    def target(self) -> str:
        return self.unix_address or f"127.0.0.1:{self.port}"

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (the services drain on it), then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def command_line(command: str) -> list[str]:
    """`orchestrouter COMMAND`, run by this interpreter."""
    return [sys.executable, "-m", "orchestrouter.cli", command]


def run_to_exit(command: str, env: Mapping[str, str], timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Runs `orchestrouter COMMAND` until it exits, with env and a plain PATH as its whole
    environment, and captures its output (for a service that must refuse to start)."""
    return subprocess.run(
        command_line(command),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def start(
    command: str, env: Mapping[str, str], name: str | None = None, ready_timeout_s: float = 120.0, echo: bool = False
) -> Service:
    """Runs `orchestrouter COMMAND` with env (listening on port 0) and waits for SERVING health."""
    proc = subprocess.Popen(
        command_line(command),
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    listen = next((v for k, v in env.items() if k.endswith("_LISTEN")), "")
    service = Service(name or command, proc, 0, unix_address=listen if listen.startswith("unix:") else "")
    port_found = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            service.log_lines.append(line.rstrip("\n"))
            if echo:
                print(f"[{service.name}] {line}", end="", file=sys.stderr)
            match = _LISTENING.search(line)
            if match and not port_found.is_set():
                service.port = int(match.group(1))
                port_found.set()
        port_found.set()  # the process ended: wake the waiter

    threading.Thread(target=pump, daemon=True, name=f"{service.name}-log").start()
    if not port_found.wait(ready_timeout_s) or service.port == 0:
        service.stop(5)
        raise LaunchError(f"{service.name} did not start:\n" + "\n".join(service.log_lines[-20:]))
    try:
        wait_serving(service.target, ready_timeout_s)
    except LaunchError:
        service.stop(5)
        raise LaunchError(f"{service.name} never became SERVING:\n" + "\n".join(service.log_lines[-20:])) from None
    return service


@dataclass
class Pair:
    """Pair: a scorer process and a router process that scores with it; stop() ends both."""

    scorer: Service
    router: Service

    def stop(self, timeout_s: float = 30.0) -> tuple[int, int]:
        """Stops the router, then the scorer (each drains on SIGTERM); returns their exit codes."""
        return self.router.stop(timeout_s), self.scorer.stop(timeout_s)

    def __enter__(self) -> Pair:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_pair(
    scorer_env: Mapping[str, str] | None = None,
    router_env: Mapping[str, str] | None = None,
    ready_timeout_s: float = 120.0,
    echo: bool = False,
) -> Pair:
    """Starts a scorer, then a router pointed at it, both on port 0 unless the envs say otherwise;
    returns once both are SERVING. If the router fails to start, the scorer is stopped."""
    scorer = start(
        "serve-scorer",
        {"ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0", **(scorer_env or {})},
        name="scorer",
        ready_timeout_s=ready_timeout_s,
        echo=echo,
    )
    try:
        router = start(
            "serve-router",
            {
                "ORCHESTROUTER_ROUTER_LISTEN": "127.0.0.1:0",
                "ORCHESTROUTER_SCORER_TARGET": scorer.target,
                **(router_env or {}),
            },
            name="router",
            ready_timeout_s=ready_timeout_s,
            echo=echo,
        )
    except BaseException:
        scorer.stop()
        raise
    return Pair(scorer, router)


def http_port(router: Service, timeout_s: float = 10.0) -> int:
    """The port of a started router's HTTP front door, from its startup log line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in list(router.log_lines):
            if match := _HTTP_LISTENING.search(line):
                return int(match.group(1))
        time.sleep(0.05)
    raise LaunchError(f"{router.name} logged no HTTP front door port:\n" + "\n".join(router.log_lines[-20:]))


def wait_serving(target: str, timeout_s: float) -> None:
    """Watches the standard health service until it reports SERVING."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            for reply in stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s, wait_for_ready=True):
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError as exc:
            raise LaunchError(f"health watch on {target} ended: {exc.code().name}") from exc
    raise LaunchError(f"health watch on {target} ended before SERVING")
