"""A real PostgreSQL server for the tests, from the binaries the pgserver wheel ships (dev extra).

PostgreSQL refuses to run as root: as root, the server runs as the unprivileged user nobody in a
data folder nobody owns. It listens on a free loopback port with password authentication (so the
tests can show a password never leaks) and stops, its folder removed, when the session ends.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PASSWORD = "s3cret-Pg-pw"
USER = "postgres"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 60


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
    """PostgresServer: initdb, then pg_ctl start on a free port; url(db) names a database on it."""

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
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c shared_buffers=16MB -c max_connections=40"
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", str(START_TIMEOUT_S),
                    "-o", options, "start",
                )  # fmt: skip
                return
            except RuntimeError:
                if attempt == 2:
                    log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
                    raise RuntimeError(f"postgres did not start:\n{log[-2000:]}") from None

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
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
