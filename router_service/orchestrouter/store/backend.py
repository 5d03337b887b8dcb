"""What the SQL store needs of a database: transactions that run one SQL dialect's statements."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Params = Sequence[Any]


class Transaction(Protocol):
    """Transaction: statements with ? placeholders, run in one database transaction."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Runs one statement; returns the rows it changed."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Runs one query; returns its rows."""
        ...


class Backend(Protocol):
    """Backend: one database connection behind a lock (so one store object is thread-safe).

    transaction() commits when its block ends and rolls back when it raises; a driver error
    leaves it as StoreError, with no secret in the message.
    """

    def transaction(self, *, write: bool) -> AbstractContextManager[Transaction]: ...

    def lock_for_migration(self, tx: Transaction) -> None:
        """Makes concurrent openers (other replicas) wait until this transaction ends."""

    def close(self) -> None: ...
