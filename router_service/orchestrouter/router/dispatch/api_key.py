"""ApiKeySource: a tier's bearer token, re-read from its mounted secret file when the file changes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from orchestrouter.runtime.envparse import decode_secret, secret_problem

log = logging.getLogger(__name__)


class ApiKeySource:
    """ApiKeySource: the key from the environment, or from a file checked at most every recheck_s.

    A Kubernetes Secret is rotated by swapping a symlink, so the file's identity (inode, mtime,
    size) is compared rather than its content; an unreadable, empty or non-UTF-8 file keeps the last
    good key. A file rotated to a key that cannot be sent (non-ASCII, control characters) makes
    ``current()`` raise UnusableKey until the file is fixed: the tier fails, flagged, and falls back.
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
        self._unusable: str | None = None
        if path:
            self._check()

    def current(self) -> str:
        """The key to send; raises UnusableKey while the file holds one that cannot be sent."""
        if self._path and self._clock() >= self._next_check:
            self._check()
        if self._unusable:
            raise UnusableKey(f"{self._variable} {self._unusable}")
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
            with open(self._path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            log.warning("cannot read %s %s (%s); keeping the previous key", self._variable, self._path, exc.strerror)
            return
        self._signature = signature
        key, problem = decode_secret(raw)
        if not key:
            log.warning("%s %s %s; keeping the previous key", self._variable, self._path, problem)
            return
        self._unusable = secret_problem(key)
        if self._unusable:
            log.warning("%s %s %s; the tier is not used until it is fixed", self._variable, self._path, self._unusable)
            return
        if key != self._key and self._key:
            log.info("%s %s changed; using the new key", self._variable, self._path)
        self._key = key


class UnusableKey(Exception):
    """UnusableKey: the key file holds a key that cannot be sent; the message names the variable, never the key."""
