"""The SQLite backend: one file in WAL mode, shared by the threads of a process and by processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrouter.store.backend import Params, Transaction
from orchestrouter.store.errors import StoreError

# How long a statement waits for another process's write lock before failing.
BUSY_TIMEOUT_S = 30.0


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._connection.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._connection.execute(sql, tuple(params)).fetchall()


class SQLiteBackend:
    """SQLiteBackend: the database file at path (created if missing; its folder must exist)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            # Autocommit mode: transactions are begun and ended explicitly below.
            self._connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the sqlite store at {path}: {exc}") from None

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[_SQLiteTransaction]:
        with self._lock:
            try:
                # IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading
                # from read to write; readers never block writers in WAL mode.
                self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _SQLiteTransaction(self._connection)
                except BaseException:
                    if self._connection.in_transaction:  # SQLite may have rolled back on its own
                        self._connection.execute("ROLLBACK")
                    raise
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"sqlite store {self._path}: {exc}") from None

    def lock_for_migration(self, tx: Transaction) -> None:
        """BEGIN IMMEDIATE already holds the database's one write lock."""

    def close(self) -> None:
        with self._lock:
            self._connection.close()
