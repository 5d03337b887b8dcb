"""The durable traffic store: requests with their answers, judgments and feedback.

``open_store(url)`` opens ``sqlite:///PATH`` (the embedded default; ``sqlite:////abs/path`` for an
absolute path) or ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` (for many router replicas)
and brings its schema up to date. Prompt text lives only here.
"""

from __future__ import annotations

from orchestrouter.store.errors import NotYourRequest, StoreError, UnknownRequest
from orchestrouter.store.protocol import Store
from orchestrouter.store.records import AnswerRecord, Feedback, Judgment, RequestRecord, StoredPair
from orchestrouter.store.sql_store import SQLStore
from orchestrouter.store.url import parse_store_url

__all__ = [
    "AnswerRecord",
    "Feedback",
    "Judgment",
    "NotYourRequest",
    "RequestRecord",
    "Store",
    "StoreError",
    "StoredPair",
    "UnknownRequest",
    "open_store",
]


def open_store(url: str) -> Store:
    """The store at url, its schema migrated (idempotent; safe when many replicas open it at once).

    Raises StoreError, whose message never holds the URL's password.
    """
    try:
        parsed = parse_store_url(url)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if parsed.kind == "sqlite":
        from orchestrouter.store.sqlite_backend import SQLiteBackend

        return SQLStore(SQLiteBackend(parsed.path), parsed.display)
    from orchestrouter.store.postgres_backend import PostgresBackend

    return SQLStore(PostgresBackend(parsed.url, parsed.display, parsed.password), parsed.display)
