"""decision_log: one JSON line per routed request, to stdout, stderr or a file.

A line holds: ``request_id`` (the trace id when tracing is on), ``caller`` (the authenticated
caller's name, "" when authentication is off; never its token), ``time`` (UTC, ISO 8601), ``outcome``
(answered, decided for a dry run, failed, cancelled) and gRPC ``status``, the decision (``tier``,
``routed_tier``, ``model``, ``win_probability``, ``threshold``, ``router_id``, ``router_version``,
``degraded``, ``fallback``, their reasons, ``attempts``: the log keys of decision_fields.DECISION_FIELDS),
``ms`` per hop, token ``usage`` and ``cost_usd``,
and the scored prompt as ``prompt_sha256`` and ``prompt_chars``; the prompt text itself only when
prompt logging is on (``ORCHESTROUTER_LOG_PROMPTS``).

Lines are built field by field from the plain decision objects, never from configuration or
exception objects, so a credential has no way in. As a second guard, each line goes through the
process's Redactor (runtime/redaction.py): the configured API keys and credential-shaped text are
masked should one ever appear (pasted into a prompt, say).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from orchestrouter.router import decision_fields
from orchestrouter.router.model import Decision, RouteInput, Timings, Usage
from orchestrouter.runtime.redaction import MASK as MASK
from orchestrouter.runtime.redaction import REDACTOR, Redactor

OFF = "off"
STREAMS = ("stdout", "stderr")


class DecisionLog:
    """DecisionLog: writes decision records as JSON lines to one sink; off writes nothing."""

    def __init__(
        self,
        sink: TextIO | None,
        log_prompts: bool = False,
        secrets: Iterable[str] = (),
        owns_sink: bool = False,
        redactor: Redactor = REDACTOR,
    ) -> None:
        self._sink = sink
        self.log_prompts = log_prompts
        # secrets are registered with the redactor, which masks them in every line.
        self._redactor = redactor
        redactor.add(*secrets)
        self._owns_sink = owns_sink

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
        if self._sink is None:
            return
        line = self._redactor.redact(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        # One write per line, flushed, so that concurrent writers and log shippers see whole lines.
        self._sink.write(line + "\n")
        self._sink.flush()

    def close(self) -> None:
        sink, self._sink = self._sink, None
        if self._owns_sink and sink is not None:
            try:
                sink.close()
            except OSError:
                pass  # the lines that could not be written were counted when they failed


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
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
