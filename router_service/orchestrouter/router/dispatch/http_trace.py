"""The HTTP client span of one endpoint call, and the traceparent that carries it to the endpoint.

Dispatch calls endpoints with aiohttp, which no instrumentation of ours patches, so the span is made
here. Outside a trace (tracing off, or a request that carries none) nothing is created or injected:
one context read per call.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from yarl import URL

from orchestrouter.router.dispatch import instruments
from orchestrouter.runtime import semconv, telemetry


def start_client_span(method: str, url: URL, headers: dict[str, str]) -> Span | None:
    """The call's client span, its traceparent added to headers; None outside a trace."""
    if not telemetry.in_trace():
        return None
    span = instruments.tracer.start_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={
            semconv.HTTP_REQUEST_METHOD: method,
            semconv.URL_FULL: str(url),
            semconv.SERVER_ADDRESS: url.host or "",
            semconv.SERVER_PORT: url.port or 0,
        },
    )
    propagate.inject(headers, context=trace.set_span_in_context(span))
    return span


def end_client_span(span: Span | None, status: int | None = None, error: BaseException | None = None) -> None:
    """Ends the span once the response's headers came (status) or the call failed (error)."""
    if span is None:
        return
    if status is not None:
        span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
        if status >= 400:
            span.set_attribute(semconv.ERROR_TYPE, str(status))
            span.set_status(Status(StatusCode.ERROR))
    if error is not None:
        # The class only: an exception's text may quote the request.
        span.set_attribute(semconv.ERROR_TYPE, type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR))
    span.end()
