"""The benchmarks' OTLP sink (tools/otlp_sink.py) counts what an OTLP exporter sends it."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from orchestrouter.tools.bench import otlp_sink


def test_the_sink_counts_exported_spans_and_reports_them_when_stopped(capsys):
    with otlp_sink() as (process, port):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
        tracer = provider.get_tracer("test")
        for name in ("one", "two", "three"):
            with tracer.start_as_current_span(name):
                pass
        provider.shutdown()
    assert process.returncode == 0
    assert "the OTLP sink received spans 3, metric points 0" in capsys.readouterr().out
