"""watched_file: a configuration file parsed once, then re-read when it changes, without a restart."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class FileFormatError(ValueError):
    """The file's content cannot be used; the message says where, never what a secret line held."""


class WatchedFile(Generic[T]):
    """WatchedFile: the value ``parse`` makes of a file, re-read at most every recheck_s when it changes.

    A Kubernetes Secret or ConfigMap is updated by swapping a symlink, so the file's identity (inode,
    size, modification and change times) is compared rather than its content. The first read must
    succeed (``load`` raises FileFormatError or OSError); later, an unreadable or malformed file keeps
    the last good value and logs one warning per distinct problem, so a bad edit never drops the
    value in use nor floods the log. ``what`` names the file in log lines (its variable).
    """

    def __init__(
        self,
        path: str,
        parse: Callable[[str], T],
        what: str,
        recheck_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._parse = parse
        self._what = what
        self._recheck_s = recheck_s
        self._clock = clock
        self._signature: tuple[int, ...] | None = None
        self._next_check = 0.0
        self._last_problem = ""
        self._value = self._read()

    def current(self) -> T:
        """The file's value, re-read first if recheck_s has passed and the file changed."""
        if self._clock() >= self._next_check:
            self.check()
        return self._value

    def check(self) -> bool:
        """Re-reads the file now if it changed; True if a new value was taken."""
        try:
            self._value = self._read()
        except (OSError, ValueError) as exc:
            problem = describe(exc)
            if problem != self._last_problem:
                self._last_problem = problem
                log.warning("%s %s: %s; keeping the previous version", self._what, self.path, problem)
            return False
        except _Unchanged:
            return False
        if self._last_problem:
            self._last_problem = ""
        log.info("%s %s changed; using the new version", self._what, self.path)
        return True

    def _read(self) -> T:
        self._next_check = self._clock() + self._recheck_s
        signature = file_signature(self.path)
        if signature == self._signature:
            raise _Unchanged
        with open(self.path, encoding="utf-8") as f:
            text = f.read()
        value = self._parse(text)
        self._signature = signature
        return value


def file_signature(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """What tells one version of a file from the next without reading it: inode, size, modification
    and change times. os.stat follows symlinks, so a ConfigMap's symlink swap is a new signature."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def describe(exc: OSError | ValueError) -> str:
    """What is wrong with a file, in words that quote none of its content."""
    if isinstance(exc, OSError):
        return f"cannot read it ({exc.strerror})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc)


class _Unchanged(Exception):
    """The file is the one already read."""
