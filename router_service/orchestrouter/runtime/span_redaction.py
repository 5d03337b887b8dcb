"""RedactingSpanExporter: the last guard that keeps secrets out of exported spans.

Spans are recorded by code that is not ours too (the gRPC and httpx instrumentations record
exception messages and status descriptions), so every span goes through the process's Redactor
on its way out: status description, attributes and event attributes. Installed by
telemetry.setup() around the configured exporter, so it costs nothing when tracing is off, and it
runs on the batch processor's thread, not in a request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from orchestrouter.runtime.redaction import REDACTOR, Redactor


class RedactingSpanExporter(SpanExporter):
    """RedactingSpanExporter: hands inner a copy of each span with its secrets masked (the span itself when clean)."""

    def __init__(self, inner: SpanExporter, redactor: Redactor = REDACTOR) -> None:
        self.inner = inner
        self.redactor = redactor

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redacted_span(span, self.redactor) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def redacted_span(span: ReadableSpan, redactor: Redactor) -> ReadableSpan:
    """span, or a copy of it with every string in its status, attributes and events redacted."""
    description = span.status.description
    safe_description = redactor.redact(description) if description else description
    attributes = _redacted(span.attributes, redactor)
    events = [_redacted_event(e, redactor) for e in span.events]
    if (
        safe_description == description
        and attributes is span.attributes
        and all(a is b for a, b in zip(events, span.events, strict=True))
    ):
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code, safe_description),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redacted_event(event: Event, redactor: Redactor) -> Event:
    attributes = _redacted(event.attributes, redactor)
    return event if attributes is event.attributes else Event(event.name, attributes, event.timestamp)


def _redacted(attributes: Mapping[str, Any] | None, redactor: Redactor) -> Any:
    """attributes itself when no string value changes, else a dict with the masked values."""
    if not attributes:
        return attributes
    changed: dict[str, Any] = {}
    for key, value in attributes.items():
        if isinstance(value, str):
            safe: Any = redactor.redact(value)
        elif isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
            safe = type(value)(redactor.redact(v) if isinstance(v, str) else v for v in value)
        else:
            continue
        if safe != value:
            changed[key] = safe
    return {**attributes, **changed} if changed else attributes
