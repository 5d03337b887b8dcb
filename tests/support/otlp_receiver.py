"""OtlpReceiver: an OTLP/gRPC collector inside the test process, for traces and metrics, on port 0.

Services under test export to it (OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint); tests wait for
what they expect with wait_for(), a condition wait with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

T = TypeVar("T")
SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
INTERNAL = trace_pb2.Span.SPAN_KIND_INTERNAL


@dataclass(frozen=True)
class ReceivedSpan:
    """ReceivedSpan: one exported span, ids as lowercase hex, attributes as plain values."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int
    start_ns: int
    end_ns: int
    links: tuple[tuple[str, str], ...]  # (trace id, span id) of each linked span
    # The whole exported span as protobuf text (status message, events, attributes), for searches.
    text: str = ""


@dataclass(frozen=True)
class ReceivedPoint:
    """ReceivedPoint: one data point of one exported metric."""

    service: str
    metric: str
    attributes: dict[str, Any]
    value: float  # a sum's value, or a histogram's count


@dataclass
class OtlpReceiver:
    """OtlpReceiver: collects what is exported to it; start() binds 127.0.0.1:0."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    points: list[ReceivedPoint] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceSink(self), self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsSink(self), self._server)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpReceiver:
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(0)

    def wait_for(self, found: Callable[[OtlpReceiver], T], timeout_s: float = 20.0) -> T:
        """Waits until found(self) is truthy (re-checked on each export) and returns it."""
        with self._changed:
            result = self._changed.wait_for(lambda: found(self), timeout_s)
        if not result:
            raise AssertionError(
                f"not received within {timeout_s}s; spans: "
                + ", ".join(sorted({f"{s.service}:{s.name}" for s in self.spans}))
            )
        return result

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.trace_id == trace_id]

    def _add(self, spans: Sequence[ReceivedSpan] = (), points: Sequence[ReceivedPoint] = ()) -> None:
        with self._changed:
            self.spans.extend(spans)
            self.points.extend(points)
            self._changed.notify_all()


def plain(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(kvs) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in kvs}


def _service(resource) -> str:
    return str(_attributes(resource.attributes).get("service.name", ""))


class _TraceSink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request, context):
        spans = []
        for rs in request.resource_spans:
            service = _service(rs.resource)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append(
                        ReceivedSpan(
                            service,
                            s.name,
                            s.kind,
                            s.trace_id.hex(),
                            s.span_id.hex(),
                            s.parent_span_id.hex(),
                            _attributes(s.attributes),
                            s.status.code,
                            s.start_time_unix_nano,
                            s.end_time_unix_nano,
                            tuple((link.trace_id.hex(), link.span_id.hex()) for link in s.links),
                            str(s),
                        )
                    )
        self._receiver._add(spans=spans)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request, context):
        points = []
        for rm in request.resource_metrics:
            service = _service(rm.resource)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    for p in getattr(m, kind).data_points:
                        value = (
                            p.count
                            if kind in ("histogram", "exponential_histogram")
                            else (p.as_double if p.WhichOneof("value") == "as_double" else p.as_int)
                        )
                        points.append(ReceivedPoint(service, m.name, _attributes(p.attributes), float(value)))
        self._receiver._add(points=points)
        return metrics_service_pb2.ExportMetricsServiceResponse()
