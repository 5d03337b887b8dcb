"""Telemetry setup from the standard OTEL_* variables: what each setting installs, and that with none
set a service exports nothing and says nothing about it."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from orchestrouter.runtime import telemetry
from orchestrouter.tools.launcher import run_to_exit, start
from orchestrouter.v1 import scorer_pb2, scorer_pb2_grpc
from tests.support.models import linear_model

ENDPOINT = "http://127.0.0.1:9"  # never dialled: exporters connect lazily
# Cleared for the child processes, so a developer's own OTEL_* settings cannot leak in.
NO_OTEL = {
    name: ""
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    )
}


def exporter_type(env: dict[str, str], signal: str):
    exporter = telemetry.exporter_for(env, signal)
    if exporter is not None:
        exporter.shutdown()
    return type(exporter)


@pytest.mark.parametrize(
    ("env", "signal", "expected"),
    [
        ({}, "traces", type(None)),
        ({}, "metrics", type(None)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, "traces", GrpcSpanExporter),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, "metrics", GrpcMetricExporter),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            "traces",
            HttpSpanExporter,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            },
            "traces",
            HttpSpanExporter,
        ),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT}, "traces", GrpcSpanExporter),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT}, "metrics", type(None)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_METRICS_EXPORTER": "none"}, "metrics", type(None)),
        ({"OTEL_TRACES_EXPORTER": "console"}, "traces", ConsoleSpanExporter),
    ],
)
def test_the_exporter_follows_the_standard_variables(env, signal, expected):
    assert exporter_type(env, signal) is expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf",
        ),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER must be otlp, console or none"),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, "one exporter is supported"),
    ],
)
def test_an_unsupported_setting_is_refused_with_its_name(env, message):
    with pytest.raises(telemetry.TelemetryConfigError, match=message):
        telemetry.exporter_for(env, "traces")


def test_disabled_or_unconfigured_setup_installs_nothing():
    for env in ({}, {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}):
        installed = telemetry.setup("orchestrouter-test", env)
        assert not installed.tracing and installed.meter_provider is None
        assert telemetry.grpc_server_interceptors() == [] and telemetry.grpc_client_interceptors() == []
        installed.shutdown()
    assert telemetry.current_trace_id() == ""


def test_a_service_without_otel_settings_exports_nothing_and_says_nothing(tmp_path):
    model = linear_model(tmp_path / "zero.onnx")
    scorer = start(
        "serve-scorer",
        {**NO_OTEL, "ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0", "ORCHESTROUTER_SCORER_MODEL": str(model)},
        name="scorer",
    )
    try:
        with grpc.insecure_channel(scorer.target) as channel:
            data = np.zeros((1, 256), "<f4")
            reply = scorer_pb2_grpc.ScorerServiceStub(channel).Score(
                scorer_pb2.ScoreRequest(embeddings=scorer_pb2.EmbeddingBatch(data=data.tobytes(), rows=1, dim=256)),
                timeout=10,
            )
        assert list(reply.win_probabilities) == [0.5]
    finally:
        assert scorer.stop(30) == 0
    noise = [
        line
        for line in scorer.log_lines
        if any(
            word in line for word in ("opentelemetry", "telemetry:", "xport", "4317", "WARNING", "ERROR", "Traceback")
        )
    ]
    assert not noise


def test_an_unsupported_otel_setting_stops_startup_with_one_clear_line(tmp_path):
    model = linear_model(tmp_path / "zero.onnx")
    proc = run_to_exit(
        "serve-scorer",
        {
            "ORCHESTROUTER_SCORER_MODEL": str(model),
            "ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        },
    )
    assert proc.returncode == 2
    assert "cannot start: OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf" in proc.stderr
    assert "Traceback" not in proc.stderr
