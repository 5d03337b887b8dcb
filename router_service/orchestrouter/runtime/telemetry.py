"""telemetry: OpenTelemetry tracing and metrics for both services, configured only by OTEL_* variables.

A signal (traces, metrics) is exported when an OTLP endpoint is named for it
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT``) or when its exporter
is asked for by name (``OTEL_{TRACES,METRICS}_EXPORTER`` = ``otlp`` | ``console`` | ``none``). With none of
them set nothing is installed: no exporter tries localhost:4317, and no interceptor is added, so an
untraced deployment pays nothing per request. ``OTEL_SDK_DISABLED=true`` turns everything off.

The rest is read by the SDK and the exporters themselves: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_BSP_*``, ``OTEL_METRIC_EXPORT_INTERVAL``,
``OTEL_EXPORTER_OTLP_{PROTOCOL,HEADERS,TIMEOUT,CERTIFICATE,COMPRESSION}`` (and their per-signal forms),
``OTEL_PROPAGATORS`` (default W3C ``tracecontext,baggage``). The OTLP protocol defaults to ``grpc``, as
everywhere in OpenTelemetry Python.

gRPC spans come from opentelemetry-instrumentation-grpc's aio interceptors, which servers and channels
take from :func:`grpc_server_interceptors` and :func:`grpc_client_interceptors` (never from a global
monkey patch, so the OTLP exporter's own gRPC calls are not traced). Dispatch makes the HTTP client
spans of its endpoint calls itself (router.dispatch.http_trace); other HTTP client spans come from the
httpx instrumentation, applied to ``httpx`` and ``httpx2`` (the transport the ``openai`` client uses)
alike. Health checks and reflection make no spans.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor, filters
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from orchestrouter.runtime.span_redaction import RedactingSpanExporter

log = logging.getLogger(__name__)

_PROTOCOLS = ("grpc", "http/protobuf")
# Spans of these services are noise: probes every few seconds, and tooling.
_UNTRACED = filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection")))


class TelemetryConfigError(ValueError):
    """An OTEL_* variable has a value this process cannot honour; the message names it."""


@dataclass
class Telemetry:
    """Telemetry: what setup() installed in this process; shutdown() flushes it."""

    service_name: str
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None

    @property
    def tracing(self) -> bool:
        return self.tracer_provider is not None

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Exports what is buffered (spans, a last metrics collection) and stops the exporters."""
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush(int(timeout_s * 1000))
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown(timeout_millis=timeout_s * 1000)


_current = Telemetry(service_name="")


def setup(default_service_name: str, env: Mapping[str, str] | None = None) -> Telemetry:
    """Installs the global tracer and meter providers that the OTEL_* variables ask for.

    Call once per process, before servers and channels are created (they take their interceptors
    then). Returns the installed Telemetry, also kept for the interceptor accessors below. env
    chooses what is installed; the exporters themselves read their settings from os.environ.
    """
    global _current
    env = os.environ if env is None else env
    _current = Telemetry(service_name=default_service_name)
    if _truthy(env.get("OTEL_SDK_DISABLED", "")):
        return _current
    span_exporter = exporter_for(env, "traces")
    metric_exporter = exporter_for(env, "metrics")
    if span_exporter is None and metric_exporter is None:
        return _current
    resource = _resource(default_service_name)
    _current.service_name = str(resource.attributes[SERVICE_NAME])
    if span_exporter is not None:
        provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
        # Every span passes the Redactor on its way out, whoever recorded it.
        provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(span_exporter)))
        trace.set_tracer_provider(provider)
        _current.tracer_provider = provider
    if metric_exporter is not None:
        meter_provider = MeterProvider(
            resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter)]
        )
        metrics.set_meter_provider(meter_provider)
        _current.meter_provider = meter_provider
    # After both providers exist: the instrumentation takes its meter from the global one.
    _instrument_httpx(_current.tracer_provider)
    log.info(
        "telemetry: service %s, traces %s, metrics %s",
        _current.service_name,
        type(span_exporter).__name__ if span_exporter else "off",
        type(metric_exporter).__name__ if metric_exporter else "off",
    )
    return _current


def grpc_server_interceptors() -> list[Any]:
    """The tracing interceptor for a grpc.aio server, outermost; none when tracing is off."""
    if not _current.tracing:
        return []
    return [aio_server_interceptor(tracer_provider=_current.tracer_provider, filter_=_UNTRACED)]


def grpc_client_interceptors() -> list[Any]:
    """The tracing interceptors for a grpc.aio channel; none when tracing is off."""
    if not _current.tracing:
        return []
    return aio_client_interceptors(tracer_provider=_current.tracer_provider, filter_=_UNTRACED)


def in_trace() -> bool:
    """Whether the current context is in a trace: false whenever tracing is off, so a caller can skip
    building spans (and their attributes) that would only be discarded."""
    return trace.get_current_span().get_span_context().is_valid


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, or "" outside a trace (tracing off)."""
    ctx = trace.get_current_span().get_span_context()
    return trace.format_trace_id(ctx.trace_id) if ctx.is_valid else ""


def exporter_for(env: Mapping[str, str], signal: str) -> Any | None:
    """The exporter env asks for, for signal "traces" or "metrics"; None when it asks for none."""
    upper = signal.upper()
    names = [n.strip() for n in env.get(f"OTEL_{upper}_EXPORTER", "").split(",") if n.strip()]
    if not names:
        endpoint = env.get(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        names = ["otlp"] if endpoint else []
    names = [n for n in names if n != "none"]
    if not names:
        return None
    if len(names) > 1:
        raise TelemetryConfigError(f"OTEL_{upper}_EXPORTER: one exporter is supported, got {','.join(names)}")
    if names[0] == "console":
        return ConsoleSpanExporter() if signal == "traces" else ConsoleMetricExporter()
    if names[0] != "otlp":
        raise TelemetryConfigError(f"OTEL_{upper}_EXPORTER must be otlp, console or none, got {names[0]!r}")
    protocol = (
        env.get(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    ).strip()
    if protocol not in _PROTOCOLS:
        raise TelemetryConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, got {protocol!r}")
    # The exporters read their endpoint, headers, timeout and TLS settings from OTEL_* themselves.
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter() if signal == "traces" else OTLPMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    return HttpSpanExporter() if signal == "traces" else HttpMetricExporter()


def _resource(default_service_name: str) -> Resource:
    detected = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
    attributes = dict(detected.attributes)
    if str(attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        attributes[SERVICE_NAME] = default_service_name
    try:
        attributes.setdefault(SERVICE_VERSION, version("orchestrouter"))
    except PackageNotFoundError:
        pass
    return Resource(attributes, detected.schema_url)


def _instrument_httpx(tracer_provider: TracerProvider | None) -> None:
    """Traces every httpx and httpx2 client in the process, including ones already created."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
    except ImportError:  # instrumentation releases before httpx2 support
        return
    try:
        HTTPX2ClientInstrumentor().instrument(tracer_provider=tracer_provider)
    except ModuleNotFoundError:  # httpx2 arrives with newer openai releases only
        pass


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")
