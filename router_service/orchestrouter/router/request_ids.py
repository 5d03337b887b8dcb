"""request_ids: random request ids (32 hex digits), cheap enough to make one per request.

``uuid.uuid4()`` asks the kernel for 16 random bytes on every call (a syscall, and the larger part
of the router's cost of naming a request); this draws 4 KiB at a time from the same source and
hands out 16 bytes per id. A forked child starts with an empty pool, so two processes never hand
out the same ids. Called on the event loop only (not thread-safe).
"""

from __future__ import annotations

import os

_BYTES_PER_ID = 16
_POOL_BYTES = 4096


class RandomIds:
    """RandomIds: 128-bit random ids as hex, from os.urandom in blocks of _POOL_BYTES."""

    def __init__(self) -> None:
        self._pool = b""
        self._next = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pool, self._next = b"", 0

    def new(self) -> str:
        if self._next >= len(self._pool):
            self._pool, self._next = os.urandom(_POOL_BYTES), 0
        start = self._next
        self._next = start + _BYTES_PER_ID
        return self._pool[start : start + _BYTES_PER_ID].hex()


RANDOM_IDS = RandomIds()
