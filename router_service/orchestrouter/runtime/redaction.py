"""Redaction: the one place that keeps secrets out of replies, log lines, spans and the decision log.

A Redactor masks every secret registered with it (the tiers' API keys, the embeddings key, keys
read later from rotated files) and anything shaped like a credential whatever its origin: an
``Authorization: Bearer ...`` value or an OpenAI-style ``sk-...`` key. An endpoint that echoes
the request's headers in an error body is the case it exists for.

The process has one, ``REDACTOR``: servers register their secrets with it at startup, and the
caller-facing status mapping, the log filter, span statuses and the decision log all ask it.
``LogRedactionFilter`` also escapes control characters in every log record, so text from a peer
(an endpoint's error body, a client's HTTP/2 GOAWAY) cannot forge log lines.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "[REDACTED]"
# Shorter "keys" are placeholders ("unused", "x") whose masking would mangle ordinary words.
MIN_SECRET_CHARS = 8
_SHAPES = re.compile(
    r"(?P<scheme>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=\-]{8,}"  # an Authorization header value
    r"|\bsk-[A-Za-z0-9_\-]{8,}",  # an OpenAI-style API key
    re.IGNORECASE,
)
# Text _SHAPES cannot match without, as it appears casefolded: _SHAPES ignores case, and casefolding
# brings every letter it takes for one of these to it, except "ı" and "İ" (taken for "i"; folded to
# "ı" and "i̇"), listed as they fold. A substring test is about 20x cheaper than the regex, and nearly
# every line the decision log masks holds none of these (tests/test_redaction.py checks the fold).
_SHAPE_HINTS = ("bearer", "basic", "sk-", "\u0131", "i\u0307")
# Every C0 control character but tab, and DEL: a newline in a log message would start a new line.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class Redactor:
    """Redactor: masks the registered secrets and credential-shaped text in a string (thread-safe)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Registers secrets to mask from now on; placeholders shorter than MIN_SECRET_CHARS are ignored."""
        fresh = [s for s in secrets if len(s) >= MIN_SECRET_CHARS and s not in self._secrets]
        if not fresh:
            return
        with self._lock:
            # Longest first, so a key that contains another is masked whole.
            self._secrets = tuple(sorted({*self._secrets, *fresh}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """text with every registered secret and credential-shaped run replaced by MASK."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        folded = text.casefold()
        if not any(hint in folded for hint in _SHAPE_HINTS):
            return text
        return _SHAPES.sub(lambda m: (m.group("scheme") or "") + MASK, text)


def escape_controls(text: str) -> str:
    """text with control characters (newlines included) written as escapes, one line whatever came in."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# The process's one Redactor.
REDACTOR = Redactor()


def register_secrets(*secrets: str) -> None:
    """Registers secrets with the process's Redactor."""
    REDACTOR.add(*secrets)


def redact(text: str) -> str:
    """text as the process's Redactor masks it."""
    return REDACTOR.redact(text)


class LogRedactionFilter(logging.Filter):
    """LogRedactionFilter: on a handler, masks secrets in each record and escapes its control characters.

    The message is rendered once here (args merged) and the record rewritten, so every formatter
    after it sees the safe text; a traceback keeps its lines but is masked too.
    """

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: log what there is rather than nothing
            message = f"{record.msg!r} {record.args!r}"
        record.msg = escape_controls(self.redactor.redact(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        return True


def install_log_filter(redactor: Redactor = REDACTOR) -> None:
    """Puts a LogRedactionFilter on every handler of the root logger (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LogRedactionFilter) for f in handler.filters):
            handler.addFilter(LogRedactionFilter(redactor))
