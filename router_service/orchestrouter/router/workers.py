"""workers: ORCHESTROUTER_ROUTER_WORKERS router processes on the same ports, under one supervisor.

One router process runs one event loop on one core. ``main()`` is ``serve-router``: with N = 1 it
runs the router itself (router.server); with N > 1 it becomes a supervising process that starts
N router processes (``python -m orchestrouter.router.workers``); each binds the gRPC port, the
HTTP front door and the health port with SO_REUSEPORT, and the kernel spreads incoming
connections over them. A listen port of 0 is bound by worker 0 first;
the others are started on the port it got.

The supervisor restarts a worker that dies (and logs it); if workers die more than MAX_DEATHS
times within DEATH_WINDOW_S it stops the rest and exits 1, so the pod restarts. SIGTERM or SIGINT
is forwarded to every worker: each drains (in-flight requests are answered, the decision log
written out) and the supervisor exits 0 once all have exited 0. A worker whose supervisor dies is
sent SIGTERM by the kernel (Linux), so none outlives it.

Each worker is a whole router: its own scorer channel, dispatch pools, metrics and traces (each
with its own service.instance.id), and its own health, which reports SERVING once that worker is
ready. Singletons that must run once per pod (the traffic store's retention purge) run in worker 0.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from orchestrouter.router.config import HTTP_LISTEN_VARIABLE, ConfigError, RouterConfig
from orchestrouter.runtime import redaction, serving

log = logging.getLogger(__name__)

# Set by the supervisor in each worker's environment (not settings for a user to set).
WORKER_INDEX_VARIABLE = "ORCHESTROUTER_ROUTER_WORKER_INDEX"
READY_FD_VARIABLE = "ORCHESTROUTER_ROUTER_WORKER_READY_FD"
# A crash loop: more deaths than this within the window stops the supervisor with exit code 1.
MAX_DEATHS = 5
DEATH_WINDOW_S = 60.0
# How long a worker may take to become ready before the supervisor gives up on it at startup.
READY_TIMEOUT_S = 120.0
# Beyond the drain's grace period, how long the supervisor waits for workers before killing them.
STOP_MARGIN_S = 15.0
POLL_S = 0.1


def worker_index() -> int | None:
    """This process's worker index when a supervisor started it; None for a router on its own."""
    text = os.environ.get(WORKER_INDEX_VARIABLE, "")
    return int(text) if text.isdigit() else None


def report_ready(port: int, http_port: int, health_port: int) -> None:
    """Tells the supervisor this worker serves, and on which ports (one JSON line on its pipe)."""
    fd = os.environ.get(READY_FD_VARIABLE, "")
    if not fd.isdigit():
        return
    message = json.dumps({"port": port, "http_port": http_port, "health_port": health_port}) + "\n"
    try:
        os.write(int(fd), message.encode())
        os.close(int(fd))
    except OSError as exc:  # a supervisor that went away: the kernel ends this worker too
        log.warning("cannot report readiness to the supervisor: %s", exc.strerror)


@dataclass
class Worker:
    """Worker: one router process and the read end of its readiness pipe."""

    index: int
    process: subprocess.Popen[bytes]
    ready_fd: int
    ports: dict[str, int] = field(default_factory=dict)


class Supervisor:
    """Supervisor: starts config.workers router processes, restarts those that die, drains all on SIGTERM.

    ``run()`` returns the process's exit code: 0 after a drain in which every worker exited 0,
    the first worker's code if it could not start (2 for a configuration it refused), else 1.
    """

    def __init__(self, config: RouterConfig, command: list[str] | None = None) -> None:
        self.config = config
        self.count = config.workers
        self._command = command or [sys.executable, "-m", "orchestrouter.router.workers"]
        self._env = dict(os.environ)
        self._workers: dict[int, Worker] = {}
        self._deaths: deque[float] = deque()
        self._stopping = False
        self._stop_deadline = 0.0
        self._failed = False
        self._exit_codes: list[int] = []

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        log.info("starting %d router workers", self.count)
        first = self._spawn(0)
        if not self._wait_ready(first, READY_TIMEOUT_S):
            stopped_by_signal = self._stopping
            self.stop()
            code = self._reap_all()
            return code if code > 0 or stopped_by_signal else 1
        self._env.update(self._bound_addresses(first.ports))
        for index in range(1, self.count):
            if self._stopping:
                break
            worker = self._spawn(index)
            threading.Thread(target=self._wait_ready, args=(worker, None), daemon=True).start()
        return self._supervise()

    def stop(self) -> None:
        """Forwards SIGTERM to every worker (they drain together); run() returns once all have exited."""
        if not self._stopping:
            self._stopping = True
            self._stop_deadline = time.monotonic() + self.config.grace_seconds + STOP_MARGIN_S
        for worker in list(self._workers.values()):
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("%s: draining %d router workers", signal.Signals(signum).name, len(self._workers))
        self.stop()

    def _spawn(self, index: int) -> Worker:
        read_fd, write_fd = os.pipe()
        env = {**self._env, WORKER_INDEX_VARIABLE: str(index), READY_FD_VARIABLE: str(write_fd)}
        try:
            process = subprocess.Popen(self._command, env=env, pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        worker = Worker(index, process, read_fd)
        self._workers[index] = worker
        return worker

    def _wait_ready(self, worker: Worker, timeout_s: float | None) -> bool:
        """Reads the worker's readiness line; False if it exits (or times out) first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        data = b""
        try:
            while not data.endswith(b"\n"):
                wait = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
                if wait <= 0:
                    log.error(
                        "router worker %d (pid %d) not ready after %.0fs", worker.index, worker.process.pid, timeout_s
                    )
                    return False
                readable, _, _ = select.select([worker.ready_fd], [], [], wait)
                if readable:
                    chunk = os.read(worker.ready_fd, 4096)
                    if not chunk:
                        return False  # the worker exited before it was ready
                    data += chunk
        finally:
            os.close(worker.ready_fd)
        worker.ports = json.loads(data)
        log.info("router worker %d (pid %d) serving", worker.index, worker.process.pid)
        return True

    def _bound_addresses(self, ports: dict[str, int]) -> dict[str, str]:
        """The listen variables with a port of 0 replaced by the port worker 0 bound."""
        config, bound = self.config, {}
        for variable, address, port in (
            ("ORCHESTROUTER_ROUTER_LISTEN", config.listen, ports["port"]),
            (HTTP_LISTEN_VARIABLE, config.http_listen, ports["http_port"]),
            ("ORCHESTROUTER_HEALTH_LISTEN", config.health_listen, ports["health_port"]),
        ):
            host, _, configured = address.rpartition(":")
            if address and configured == "0":
                bound[variable] = f"{host}:{port}"
        return bound

    def _supervise(self) -> int:
        while self._workers:
            for worker in list(self._workers.values()):
                code = worker.process.poll()
                if code is not None:
                    self._exited(worker, code)
            if self._stopping and time.monotonic() > self._stop_deadline:
                for worker in self._workers.values():
                    log.error(
                        "router worker %d (pid %d) did not drain in time: killed", worker.index, worker.process.pid
                    )
                    worker.process.kill()
                self._failed = True
                self._reap_all()
                break
            time.sleep(POLL_S)
        if self._failed or any(code != 0 for code in self._exit_codes):
            return 1
        log.info("all router workers drained")
        return 0

    def _exited(self, worker: Worker, code: int) -> None:
        del self._workers[worker.index]
        if self._stopping:
            self._exit_codes.append(code)
            if code != 0:
                log.error("router worker %d (pid %d) exited with %d", worker.index, worker.process.pid, code)
            return
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > DEATH_WINDOW_S:
            self._deaths.popleft()
        if len(self._deaths) > MAX_DEATHS:
            log.error("router workers keep dying (%d exits in %.0fs): stopping", len(self._deaths), DEATH_WINDOW_S)
            self._failed = True
            self.stop()
            return
        log.error("router worker %d (pid %d) exited with %d: restarting it", worker.index, worker.process.pid, code)
        replacement = self._spawn(worker.index)
        threading.Thread(target=self._wait_ready, args=(replacement, None), daemon=True).start()

    def _reap_all(self) -> int:
        """Waits for every worker to exit (killing those past the stop deadline); returns the first's code."""
        codes = {}
        for worker in list(self._workers.values()):
            try:
                codes[worker.index] = worker.process.wait(max(0.0, self._stop_deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                codes[worker.index] = worker.process.wait()
        self._workers.clear()
        return codes.get(0, 1)


def _die_with_the_supervisor() -> None:
    """Asks the kernel for SIGTERM when the supervisor dies (Linux prctl PR_SET_PDEATHSIG)."""
    supervisor = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: a worker outlives a killed supervisor until it is stopped itself
    if os.getppid() != supervisor:  # the supervisor died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    """serve-router: one router process, or (ORCHESTROUTER_ROUTER_WORKERS > 1) a supervisor of several.

    The supervisor never imports the server (its gRPC services, the embedder, dispatch), so it
    holds little memory beside its workers.
    """
    worker = worker_index()
    if worker is None:
        serving.configure_logging()
        redaction.install_log_filter()
        try:
            config = RouterConfig.from_env()
        except ConfigError as exc:
            log.error("cannot start: %s", exc)
            sys.exit(2)
        if config.workers > 1:
            sys.exit(Supervisor(config).run())
    else:
        _die_with_the_supervisor()
        logging.basicConfig(
            level=logging.INFO,
            format=f"%(asctime)s %(levelname)s router worker {worker} (pid {os.getpid()}) %(name)s: %(message)s",
        )
    # Imported only now: a supervisor never loads it.
    from orchestrouter.router import server

    server.main(worker)


if __name__ == "__main__":
    main()
