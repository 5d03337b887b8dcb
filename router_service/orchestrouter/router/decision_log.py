"""decision_log: one JSON line per routed request, to stdout, stderr or a file.

A line holds: ``request_id`` (the trace id when tracing is on), ``caller`` (the authenticated
caller's name, "" when authentication is off; never its token), ``time`` (UTC, ISO 8601), ``outcome``
(answered, decided for a dry run, failed, cancelled) and gRPC ``status``, the decision (``tier``,
``routed_tier``, ``model``, ``win_probability``, ``threshold``, ``router_id``, ``router_version``,
``degraded``, ``fallback``, their reasons, ``attempts``: the log keys of decision_fields.DECISION_FIELDS),
``ms`` per hop, token ``usage`` and ``cost_usd``,
and the scored prompt as ``prompt_sha256`` and ``prompt_chars``; the prompt text itself only when
prompt logging is on (``ORCHESTROUTER_LOG_PROMPTS``). With several router workers
(``ORCHESTROUTER_ROUTER_WORKERS``) a line also names its ``worker`` (0, 1, ...).

Lines are built field by field from the plain decision objects, never from configuration or
exception objects, so a credential has no way in. As a second guard, each line goes through the
process's Redactor (runtime/redaction.py): the configured API keys and credential-shaped text are
masked should one ever appear (pasted into a prompt, say).

Delivery (issue 14): ``write`` only appends the record to an in-memory queue, so the request's event
loop never serialises or writes. A writer thread takes whatever has queued, serialises and masks each
line, and writes them in chunks of whole lines of at most PIPE_BUF bytes, flushed (a chunk that size
is one atomic write to a pipe, so the lines of several router workers sharing stdout never
interleave). ``close`` writes everything still queued before it returns. A queue that is full (the
sink far slower than the traffic) drops the new record and counts it as a failure; a sink that
fails (a full disk, a closed pipe) counts each line it lost. Neither ever blocks or fails a request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import select
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from orchestrouter.router import decision_fields
from orchestrouter.router.model import Decision, RouteInput, Timings, Usage
from orchestrouter.runtime.batch_writer import BatchWriter
from orchestrouter.runtime.redaction import MASK as MASK
from orchestrouter.runtime.redaction import REDACTOR, Redactor
from orchestrouter.runtime.throttled_log import ThrottledWarning, describe

log = logging.getLogger(__name__)

OFF = "off"
STREAMS = ("stdout", "stderr")
# Records waiting for the writer; past this many a new one is dropped (and counted), so a stalled
# sink holds a bounded amount of memory (a record is a few hundred bytes plus its dict).
DEFAULT_MAX_QUEUED = 100_000
# The most bytes of one write: a pipe writes this much atomically (Linux: 4096).
CHUNK_BYTES = select.PIPE_BUF
# How long close() waits for the writer to write what is queued (a sink that blocks for good, such
# as a pipe nobody reads, must not hold the process forever).
CLOSE_TIMEOUT_S = 30.0
# How long the writer lets records gather after the first of a quiet spell: a line reaches the sink
# at most this much later, and under load the writer thread wakes 50 times a second, not per line.
LINGER_S = 0.02

# (what failed, how many lines it cost): the writer's report of lines lost.
FailureReport = Callable[[BaseException, int], None]


class QueueFull(Exception):
    """The decision log's queue is full: the record was dropped."""


class DecisionLog:
    """DecisionLog: queues decision records and writes them as JSON lines to one sink, off the
    event loop, from a writer thread; off writes nothing.

    on_failure is told of every line lost (a full queue, a failed write); by default a throttled
    warning. RouteObserver points it at its failure count and metric.
    """

    def __init__(
        self,
        sink: TextIO | None,
        log_prompts: bool = False,
        secrets: Iterable[str] = (),
        owns_sink: bool = False,
        redactor: Redactor = REDACTOR,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self._sink = sink
        self.log_prompts = log_prompts
        # secrets are registered with the redactor, which masks them in every line.
        self._redactor = redactor
        redactor.add(*secrets)
        self._owns_sink = owns_sink
        self._writer: BatchWriter[dict[str, Any]] = BatchWriter(
            self._write_batch, name="decision-log-writer", max_queued=max_queued, linger_s=LINGER_S
        )
        # Set in each process of a multi-worker router: its lines carry ``worker`` (the index).
        self.worker: int | None = None
        self._warning = ThrottledWarning(log, "cannot write the decision log")
        self.on_failure: FailureReport = self._warn

    @classmethod
    def open(cls, target: str, log_prompts: bool = False, secrets: Iterable[str] = ()) -> DecisionLog:
        """target: "off", "stdout", "stderr" or a file path (appended to, created if missing)."""
        if target == OFF:
            return cls(None)
        if target in STREAMS:
            return cls(getattr(sys, target), log_prompts, secrets)
        return cls(open(target, "a", encoding="utf-8"), log_prompts, secrets, owns_sink=True)

    @property
    def enabled(self) -> bool:
        return self._sink is not None

    def write(self, record: dict[str, Any]) -> None:
        """Queues record for the writer; never blocks. A full queue drops it (reported to on_failure)."""
        if self._sink is None:
            return
        if not self._writer.put(record):
            max_queued = self._writer.max_queued
            self.on_failure(QueueFull(f"{max_queued} lines waiting for the sink: the line is dropped"), 1)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Waits until every record queued so far is written (or lost); False if timeout_s passed first."""
        return self._writer.flush(timeout_s)

    def close(self) -> None:
        """Writes everything queued (waiting up to CLOSE_TIMEOUT_S), then closes a sink the log opened."""
        if self._sink is None:
            return
        if not self._writer.close(CLOSE_TIMEOUT_S):
            log.warning("decision log: the sink did not take the last lines within %.0fs", CLOSE_TIMEOUT_S)
            return  # the writer still holds the sink: it is not closed under it
        sink, self._sink = self._sink, None
        if self._owns_sink and sink is not None:
            try:
                sink.close()
            except OSError:
                pass  # the lines that could not be written were counted when they failed

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        chunk: list[str] = []
        size = 0
        for record in batch:
            if self.worker is not None:
                record["worker"] = self.worker
            try:
                line = self._redactor.redact(json.dumps(record, ensure_ascii=False, separators=(",", ":"))) + "\n"
            except Exception as exc:  # noqa: BLE001 - one bad record costs its own line only
                self._report(exc, 1)
                continue
            length = len(line.encode("utf-8"))
            if chunk and size + length > CHUNK_BYTES:
                self._write_chunk(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += length
        if chunk:
            self._write_chunk(chunk)

    def _write_chunk(self, lines: list[str]) -> None:
        # One write and flush of whole lines, so that log shippers and other writers see whole lines.
        sink = self._sink
        try:
            if sink is None:
                raise ValueError("the decision log is closed")
            sink.write("".join(lines))
            sink.flush()
        except Exception as exc:  # noqa: BLE001 - a sink that fails loses its lines, never the thread
            self._report(exc, len(lines))

    def _warn(self, exc: BaseException, lines: int) -> None:
        for _ in range(lines):
            self._warning(describe(exc))

    def _report(self, exc: BaseException, lines: int) -> None:
        try:
            self.on_failure(exc, lines)
        except Exception:  # noqa: BLE001 - the report itself failing must not stop the writer
            pass


class _UtcMilliseconds:
    """The time as ISO 8601 UTC with milliseconds ("2026-12-06T06:40:00.123Z"); the part up to the
    second is formatted once per second (datetime's isoformat for each line cost more than the rest of it)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:  # the prefix is set first: a reader on another thread never pairs it wrong
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"


_UTC_CLOCK = _UtcMilliseconds()


def build_record(
    inp: RouteInput,
    request_id: str,
    decision: Decision | None,
    timings: Timings,
    usage: Usage | None,
    outcome: str,
    status: str,
    error: str = "",
    log_prompt: bool = False,
) -> dict[str, Any]:
    """The decision record of one request; decision is None when it failed before deciding."""
    record: dict[str, Any] = {
        "request_id": request_id,
        "caller": inp.caller,
        "time": _UTC_CLOCK.now(),
        "outcome": outcome,
        "status": status,
    }
    if error:
        record["error"] = error
    if decision is not None:
        record.update(decision_fields.log_fields(decision))
    record["dry_run"] = inp.dry_run
    record["ms"] = {
        "embed": round(timings.embed_ms, 3),
        "score": round(timings.score_ms, 3),
        "dispatch": round(timings.dispatch_ms, 3),
        "total": round(timings.total_ms, 3),
    }
    usage = usage or Usage()
    record["usage"] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    record["cost_usd"] = usage.cost_usd
    record["prompt_sha256"] = hashlib.sha256(inp.query.encode("utf-8")).hexdigest()
    record["prompt_chars"] = len(inp.query)
    if log_prompt:
        record["prompt"] = inp.query
    return record
