"""A real PostgreSQL server for the tests, from the binaries the pgserver wheel ships (dev extra).

PostgreSQL refuses to run as root: as root, the server runs as the unprivileged user nobody in a
data folder nobody owns. It listens on a free loopback port with password authentication (so the
tests can show a password never leaks) and stops, its folder removed, when the session ends; if
the test process is killed instead, the kernel stops the server (a parent-death signal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

PASSWORD = "s3cret-Pg-pw"
USER = "postgres"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 60
PR_SET_PDEATHSIG = 1  # prctl(2)


def bin_dir() -> Path:
    """The pgserver wheel's PostgreSQL binaries, found without importing pgserver (its import has side effects)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the store tests need the pgserver wheel: install the dev extra (make venv)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """PostgresServer: initdb, then postgres on a free loopback port; url(db) names a database on it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="orchestrouter-pg-"))
        self.data = self.root / "data"
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        self.root.chmod(0o700)
        self._databases = itertools.count()
        self.port = 0
        try:
            self._initdb()
            self._start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(bin_dir() / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            cwd=self.root,
            **self._user,
        )
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}")

    def _initdb(self) -> None:
        password_file = self.root / "pw"
        password_file.write_text(PASSWORD)
        if self._user:
            os.chown(password_file, self._user["user"], self._user["group"])
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--pwfile",
            str(password_file),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        password_file.unlink()

    def _start(self) -> None:
        # The port is free when picked and could be taken before the server binds it: try again then.
        for _ in range(3):
            self.port = _free_port()
            with open(self.root / "log", "ab") as log:
                self._process = subprocess.Popen(
                    [str(bin_dir() / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
                     "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    preexec_fn=_die_with_parent,
                    **self._user,
                )  # fmt: skip
            if self._wait_until_ready():
                return
            self._process.kill()
            self._process.wait()
        log_text = (self.root / "log").read_text(errors="replace")
        raise RuntimeError(f"postgres did not start:\n{log_text[-2000:]}")

    def _wait_until_ready(self) -> bool:
        """Polls pg_isready until the server accepts connections; False if it exits or takes too long."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self._process.poll() is None:
            probe = [str(bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"]
            if subprocess.run(probe, capture_output=True, timeout=10).returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def url(self, database: str = USER, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL (with the password)."""
        import psycopg

        name = f"test_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Stops the server (fast shutdown: connections are cut) and removes its folder."""
        try:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _die_with_parent() -> None:
    """In the server's process before exec (after its user is set, which would clear it): when the
    test process dies, even by SIGKILL, the kernel sends the server SIGQUIT (immediate shutdown)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)
