"""The router model artifact: metadata round trip, validation, calibration."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from orchestrouter.router.calibration import Calibration
from orchestrouter.scorer.artifact import ArtifactError, read_info
from orchestrouter.scorer.engine import ScoringEngine
from tests.support.models import linear_model


def test_metadata_round_trips(tmp_path):
    path = linear_model(tmp_path / "m.onnx", version="9.9")
    info = read_info(path)
    assert (info.router_id, info.version, info.embedder_name, info.embedder_dim) == (
        "test-linear",
        "9.9",
        "wordllama-l2-supercat-256",
        256,
    )
    assert info.calibration_reference and len(info.calibration_quantiles) == 101


def test_missing_metadata_is_named(tmp_path):
    path = linear_model(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key != "orchestrouter.embedder_name"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(path))
    with pytest.raises(ArtifactError, match="orchestrouter.embedder_name"):
        read_info(path)


def test_missing_file_and_garbage_are_clear_errors(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        read_info(tmp_path / "absent.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk")
    with pytest.raises(ArtifactError, match="not an ONNX model"):
        read_info(tmp_path / "junk.onnx")


def test_engine_refuses_a_model_for_another_embedder(tmp_path):
    path = linear_model(tmp_path / "m.onnx", dim=1536, embedder="text-embedding-3-small")
    with pytest.raises(ArtifactError) as err:
        ScoringEngine(path, expected_embedder="wordllama-l2-supercat-256")
    assert "text-embedding-3-small" in str(err.value) and "wordllama-l2-supercat-256" in str(err.value)


def test_linear_router_is_a_sigmoid_of_a_dot_product(tmp_path):
    rng = np.random.default_rng(3)
    u = rng.normal(size=256).astype(np.float32)
    engine = ScoringEngine(linear_model(tmp_path / "m.onnx", u=u, bias=0.3))
    e = rng.normal(size=(50, 256)).astype(np.float32)
    np.testing.assert_allclose(engine.run(e), 1 / (1 + np.exp(-(e @ u + 0.3))), rtol=1e-5, atol=1e-6)


def test_calibration_maps_share_to_threshold_and_back():
    scores = np.random.default_rng(4).beta(2, 5, 10_000)
    cal = Calibration.from_scores(scores, "synthetic")
    t = cal.threshold_for_share(0.2)
    assert np.mean(scores >= t) == pytest.approx(0.2, abs=0.01)
    assert cal.share_for_threshold(t) == pytest.approx(0.2, abs=0.01)
    with pytest.raises(ValueError):
        cal.threshold_for_share(1.5)


def test_calibration_share_ends_mean_never_and_always():
    cal = Calibration("synthetic", (0.1, 0.2, 0.4))
    assert cal.threshold_for_share(0.0) == 1.0
    assert cal.threshold_for_share(1.0) == 0.0
