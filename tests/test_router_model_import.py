"""import-routellm: a synthetic checkpoint in RouteLLM's exact format reproduces RouteLLM's formula."""

import json

import numpy as np
import onnxruntime as ort
import pytest
from safetensors.numpy import save_file

from orchestrouter.cli.main import main
from orchestrouter.scorer import artifact
from orchestrouter.training.routellm_import import ROUTELLM_MODELS, import_checkpoint


def _checkpoint(folder, rng, text_dim=1536):
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(
        json.dumps({"dim": 128, "num_models": 64, "text_dim": text_dim, "num_classes": 1, "use_proj": True})
    )
    weights = {
        "P.weight": rng.normal(size=(64, 128)).astype(np.float32),
        "text_proj.0.weight": (rng.normal(size=(128, text_dim)) / np.sqrt(text_dim)).astype(np.float32),
        "classifier.0.weight": rng.normal(size=(1, 128)).astype(np.float32),
    }
    save_file(weights, str(folder / "model.safetensors"))
    return weights


def _reference(weights, e, strong, weak):
    """s(m, e) = c · (P[m]/|P[m]| ⊙ W e); P = sigmoid(s(strong) - s(weak)), in float64."""
    P = weights["P.weight"].astype(np.float64)
    W = weights["text_proj.0.weight"].astype(np.float64)
    c = weights["classifier.0.weight"].astype(np.float64)[0]
    projected = e.astype(np.float64) @ W.T

    def s(m):
        return (projected * (P[m] / np.linalg.norm(P[m]))) @ c

    return 1.0 / (1.0 + np.exp(-(s(strong) - s(weak))))


@pytest.mark.parametrize(
    "strong,weak", [("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"), ("claude-2.1", "llama-2-7b-chat")]
)
def test_import_matches_reference_formula(tmp_path, strong, weak):
    rng = np.random.default_rng(7)
    weights = _checkpoint(tmp_path / "ckpt", rng)
    out = tmp_path / "routellm.onnx"
    assert main(["import-routellm", str(tmp_path / "ckpt"), "--out", str(out), "--strong", strong, "--weak", weak]) == 0
    info = artifact.read_info(out)
    assert (info.embedder_name, info.embedder_dim) == ("text-embedding-3-small", 1536)
    assert (info.strong_model, info.weak_model) == (strong, weak)
    e = rng.normal(size=(1000, 1536)).astype(np.float32)
    got = ort.InferenceSession(str(out)).run([artifact.OUTPUT_NAME], {artifact.INPUT_NAME: e})[0]
    want = _reference(weights, e, ROUTELLM_MODELS.index(strong), ROUTELLM_MODELS.index(weak))
    assert got.shape == (1000,)
    assert np.max(np.abs(got - want)) < 1e-5
    assert want.std() > 0.05  # the test data exercises the whole sigmoid, not a constant


def test_default_pair_indices_are_routellm_s():
    assert ROUTELLM_MODELS.index("gpt-4-1106-preview") == 24
    assert ROUTELLM_MODELS.index("mixtral-8x7b-instruct-v0.1") == 36
    assert len(ROUTELLM_MODELS) == 64


def test_import_rejects_wrong_shapes_and_unknown_models(tmp_path):
    rng = np.random.default_rng(0)
    _checkpoint(tmp_path / "ok", rng)
    with pytest.raises(artifact.ArtifactError, match="not in the checkpoint"):
        import_checkpoint(tmp_path / "ok", strong="gpt-9")
    bad = tmp_path / "bad"
    _checkpoint(bad, rng, text_dim=1536)
    (bad / "config.json").write_text(
        json.dumps({"dim": 128, "num_models": 64, "text_dim": 768, "num_classes": 1, "use_proj": True})
    )
    with pytest.raises(artifact.ArtifactError, match="text_proj.0.weight has shape"):
        import_checkpoint(bad)
    with pytest.raises(artifact.ArtifactError, match="lacks config.json"):
        import_checkpoint(tmp_path / "missing")
