"""The scorer and the router as separate processes on port 0, driven like a caller would."""

from __future__ import annotations

import json

import grpc
import numpy as np
import onnxruntime as ort
import pytest

from orchestrouter.cli.main import main as cli_main
from orchestrouter.client import RouterClient
from orchestrouter.router.embedders import WordLlamaEmbedder
from orchestrouter.scorer.artifact import DEFAULT_MODEL_PATH
from orchestrouter.tools.launcher import run_to_exit, start_pair

QUERY = "Write a recursive descent parser for arithmetic expressions in C++."


@pytest.fixture(scope="module")
def services():
    # Scoring gets 5 s (not 250 ms): on a loaded test machine a slow Score call would make the
    # many-callers test's routes degraded, which is not what these tests are about.
    pair = start_pair(router_env={"ORCHESTROUTER_SCORER_TIMEOUT_MS": "5000"})
    yield pair.scorer, pair.router
    router_code, scorer_code = pair.stop()
    assert router_code == 0, "\n".join(pair.router.log_lines[-20:])
    assert scorer_code == 0, "\n".join(pair.scorer.log_lines[-20:])


def test_dry_run_win_probability_equals_the_onnx_output(services):
    _, router = services
    with RouterClient(router.target) as client:
        answer = client.route(QUERY, dry_run=True)
    embedding = WordLlamaEmbedder().embed([QUERY])
    session = ort.InferenceSession(str(DEFAULT_MODEL_PATH), providers=["CPUExecutionProvider"])
    expected = float(session.run(["win_probability"], {"embeddings": embedding})[0][0])
    assert answer.win_probability == pytest.approx(expected, abs=1e-6)
    assert answer.tier == ("premium" if expected >= answer.threshold else "small")
    assert answer.threshold == pytest.approx(0.2)


def test_cli_route_prints_one_json_decision(services, capsys):
    _, router = services
    argv = ["route", "--router", router.target, "--dry-run", "--threshold", "0.05", "--json", "What is 2 + 2?"]
    assert cli_main(argv) == 0
    decision = json.loads(capsys.readouterr().out)
    assert {"tier", "model", "win_probability", "threshold", "router_version"} <= decision.keys()
    assert decision["threshold"] == pytest.approx(0.05)
    assert decision["tier"] == ("premium" if decision["win_probability"] >= 0.05 else "small")


def test_cli_route_reports_a_refused_request_without_a_traceback(services, capsys):
    _, router = services
    assert cli_main(["route", "--router", router.target, "--dry-run", "--threshold", "7", "hello"]) == 1
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT" in err and "threshold" in err
    assert "Traceback" not in err


def test_scorer_refuses_to_start_with_a_broken_model(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    proc = run_to_exit(
        "serve-scorer", {"ORCHESTROUTER_SCORER_MODEL": str(bad), "ORCHESTROUTER_SCORER_LISTEN": "127.0.0.1:0"}
    )
    assert proc.returncode == 2
    assert "cannot start" in proc.stderr and "not an ONNX model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_router_route_survives_many_concurrent_callers(services):
    _, router = services
    import concurrent.futures

    texts = [f"question number {i}: what is {i} squared?" for i in range(200)]
    with RouterClient(router.target) as client, concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda t: client.route(t, dry_run=True), texts))
    assert len(answers) == 200 and all(0.0 < a.win_probability < 1.0 for a in answers)
    assert len({a.request_id for a in answers}) == 200
    assert not any(a.degraded for a in answers)
    np.testing.assert_array_less(0, [a.timings_ms["total"] for a in answers])
    with pytest.raises(grpc.RpcError):
        RouterClient(router.target, timeout_s=5).route("", dry_run=True)


def test_a_listen_port_in_use_is_one_clear_line(services):
    scorer, _ = services
    proc = run_to_exit("serve-scorer", {"ORCHESTROUTER_SCORER_LISTEN": f"127.0.0.1:{scorer.port}"})
    assert proc.returncode == 2
    assert "cannot listen on" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("listen", ["garbage", "127.0.0.1:99999", "127.0.0.1:"])
def test_a_malformed_listen_address_names_the_variable(listen):
    proc = run_to_exit("serve-scorer", {"ORCHESTROUTER_SCORER_LISTEN": listen})
    assert proc.returncode == 2
    assert "ORCHESTROUTER_SCORER_LISTEN" in proc.stderr and "Traceback" not in proc.stderr
