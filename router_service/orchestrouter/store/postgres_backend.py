"""The PostgreSQL backend (psycopg 3, imported only when a postgresql:// URL is opened).

One connection per store object, behind a lock; a connection the server dropped is replaced on
the next call, so a store outlives a database restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrouter.store.backend import Params, Transaction
from orchestrouter.store.errors import StoreError

CONNECT_TIMEOUT_S = 10
# pg_advisory_xact_lock key taken by every replica that migrates: "orchest" in ASCII.
MIGRATION_LOCK_KEY = 0x6F72636865737400


class _PostgresTransaction:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> int:
        self._cursor.execute(_placeholders(sql), _without_nul(params))
        return int(self._cursor.rowcount)

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(_placeholders(sql), _without_nul(params))
        return list(self._cursor.fetchall())


def _without_nul(params: Params) -> tuple[Any, ...] | None:
    # PostgreSQL text cannot hold NUL, which a gRPC string, a JSON body or an endpoint's answer can:
    # U+FFFD takes its place, or the whole batch of records it came in would be refused.
    return tuple(p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params) or None


def _placeholders(sql: str) -> str:
    # The store's SQL holds no literal ? or %: its placeholders become psycopg's.
    return sql.replace("?", "%s")


class PostgresBackend:
    """PostgresBackend: the database at url. display and password keep secrets out of messages."""

    def __init__(self, url: str, display: str, password: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "a postgresql:// store needs psycopg: pip install 'orchestrouter[router]' (or psycopg[binary])"
            ) from None
        self._psycopg = psycopg
        self._url = url
        self._display = display
        self._password = password
        self._lock = threading.Lock()
        self._connection: Any = None
        with self._lock:
            self._connect()

    def _connect(self) -> Any:
        if self._connection is None or self._connection.closed:
            try:
                self._connection = self._psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            except self._psycopg.Error as exc:
                raise self._error(exc) from None
        return self._connection

    def _error(self, exc: BaseException) -> StoreError:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if self._password:
            message = message.replace(self._password, "***")
        return StoreError(f"postgresql store {self._display}: {message}")

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[_PostgresTransaction]:
        with self._lock:
            connection = self._connect()
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    yield _PostgresTransaction(cursor)
            except self._psycopg.Error as exc:
                if connection.broken:  # dropped by the server: the next call connects again
                    connection.close()
                raise self._error(exc) from None

    def lock_for_migration(self, tx: Transaction) -> None:
        # Held until the transaction ends: replicas starting together migrate one after another.
        tx.query("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
