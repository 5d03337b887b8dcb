"""The benchmarks' trace collector: an OTLP/gRPC endpoint that takes traces and metrics and keeps
only their counts, in its own process (so that what it costs falls on no system measured).

`python -m orchestrouter.tools.otlp_sink` prints "otlp sink on 127.0.0.1 (port N)" once it
listens; on SIGTERM or SIGINT it prints "spans N, metric points M" and exits.
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Counts:
    """Counts: spans and metric data points received so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans = 0
        self.points = 0

    def add(self, spans: int = 0, points: int = 0) -> None:
        with self._lock:
            self.spans += spans
            self.points += points


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, counts: Counts) -> None:
        self._counts = counts

    def Export(self, request, context):
        self._counts.add(spans=sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans))
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, counts: Counts) -> None:
        self._counts = counts

    def Export(self, request, context):
        points = 0
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    points += len(getattr(m, m.WhichOneof("data")).data_points)
        self._counts.add(points=points)
        return metrics_service_pb2.ExportMetricsServiceResponse()


def main() -> int:
    counts = Counts()
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(counts), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(counts), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"otlp sink on 127.0.0.1 (port {port})", flush=True)
    stop.wait()
    server.stop(0)
    print(f"spans {counts.spans}, metric points {counts.points}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
