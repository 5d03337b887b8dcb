"""ApiKeySource: a tier's bearer token, re-read from its mounted secret file when the file changes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class ApiKeySource:
    """ApiKeySource: the key from the environment, or from a file checked at most every recheck_s.

    A Kubernetes Secret is rotated by swapping a symlink, so the file's identity (inode, mtime,
    size) is compared rather than its content; an unreadable or empty file keeps the last good key.
    Nothing here logs the key itself.
    """

    def __init__(
        self,
        key: str,
        path: str = "",
        variable: str = "",
        recheck_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = key
        self._path = path
        self._variable = variable or "API key file"
        self._recheck_s = recheck_s
        self._clock = clock
        self._next_check = 0.0
        self._signature: tuple[int, int, int] | None = None
        if path:
            self._check()

    def current(self) -> str:
        if self._path and self._clock() >= self._next_check:
            self._check()
        return self._key

    def refresh_now(self) -> bool:
        """Re-reads the file at once (after the endpoint rejected the key); True if the key changed."""
        if not self._path:
            return False
        before = self._key
        self._check()
        return self._key != before

    def _check(self) -> None:
        self._next_check = self._clock() + self._recheck_s
        try:
            st = os.stat(self._path)
            signature = (st.st_ino, st.st_mtime_ns, st.st_size)
            if signature == self._signature:
                return
            with open(self._path, encoding="utf-8") as f:
                key = f.read().strip()
        except OSError as exc:
            log.warning("cannot read %s %s (%s); keeping the previous key", self._variable, self._path, exc.strerror)
            return
        self._signature = signature
        if not key:
            log.warning("%s %s is empty; keeping the previous key", self._variable, self._path)
            return
        if key != self._key and self._key:
            log.info("%s %s changed; using the new key", self._variable, self._path)
        self._key = key
