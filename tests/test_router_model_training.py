"""Data loading, decontamination, splits, battles and the trainers, on small synthetic data."""

import csv
import json

import numpy as np
import onnxruntime as ort
import pytest

from orchestrouter.scorer import artifact
from orchestrouter.training.battles import A_WINS, B_WINS, TIE, BattleBuilder, read_battles_jsonl
from orchestrouter.training.datasets import STRONG, WEAK, ScoredPrompt, load_gsm8k, load_mmlu
from orchestrouter.training.decontamination import copies_of
from orchestrouter.training.mf import MFConfig, train_mf
from orchestrouter.training.recipes import train_pair
from orchestrouter.training.splits import gsm8k_split, holding_out_categories


def _write_csv(path, header, rows):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _fake_data_dir(tmp_path):
    mmlu = tmp_path / "routellm-evals" / "mmlu"
    gsm = tmp_path / "routellm-evals" / "gsm8k"
    mmlu.mkdir(parents=True)
    gsm.mkdir(parents=True)
    header = ["prompt", "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"]
    _write_csv(
        mmlu / "mmlu_anatomy.csv",
        header,
        [["Which bone?\nA. a\nAnswer:", "False", "True"], ["Leaked question\nAnswer:", "True", "True"]],
    )
    _write_csv(mmlu / "mmlu_marketing.csv", header, [["What is a brand?\nAnswer:", "True", "False"]])
    (mmlu / "contaminated_prompts.jsonl").write_text(json.dumps({"eval_prompt": "Leaked question\nAnswer:"}) + "\n")
    _write_csv(
        gsm / "gsm8k_responses.csv",
        header + ["x_response", "y_response"],
        [["Tom has 3 apples and buys 4 more. How many apples does Tom have now?", "True", "True", "7", "7"]],
    )
    return tmp_path


def test_loaders_normalise_models_and_drop_contaminated(tmp_path):
    data_dir = _fake_data_dir(tmp_path)
    mmlu = load_mmlu(data_dir)
    assert [p.group for p in mmlu] == ["anatomy", "marketing"]
    assert mmlu[0].scores == {WEAK: 0.0, STRONG: 1.0}
    gsm = load_gsm8k(data_dir)
    assert len(gsm) == 1 and set(gsm[0].scores) == {WEAK, STRONG}


def test_copies_of_finds_quoted_questions():
    question = "Tom has 3 apples and buys 4 more at the market today. How many apples does Tom have now?"
    flags = copies_of(
        [f"Q: {question.upper()} Let's think step by step.", "Write a poem about the sea.", "Tom has 3 apples."],
        [question],
    )
    assert flags == [True, False, False]


def test_gsm8k_split_drops_copies_and_gsm_tasks():
    q = "Tom has 3 apples and buys 4 more at the market today. How many apples does Tom have now?"
    data = [
        ScoredPrompt(q, "gsm8k", "gsm8k", {STRONG: 1, WEAK: 0}),
        ScoredPrompt("Question: " + q, "llmrouter", "math", {"a": 1, "b": 0}),
        ScoredPrompt("a different grade school problem about trains", "llmrouter", "gsm8k", {"a": 1, "b": 0}),
        ScoredPrompt("Name the capital of France please", "arena", "arena", {STRONG: 9, WEAK: 8}),
    ]
    split = gsm8k_split(data)
    assert [p.source for p in split.test] == ["gsm8k"]
    assert [p.prompt for p in split.train] == ["Name the capital of France please"]


def test_holding_out_categories_excludes_them_from_every_set():
    data = [
        ScoredPrompt("q1 anatomy", "mmlu", "anatomy", {STRONG: 1, WEAK: 0}),
        ScoredPrompt("q2 marketing", "mmlu", "marketing", {STRONG: 1, WEAK: 1}),
        ScoredPrompt("pro health", "mmlu-pro", "health:ori_mmlu-anatomy", {"a": 1, "b": 0}),
        ScoredPrompt("pro business", "mmlu-pro", "business:stemez", {"a": 1, "b": 0}),
        ScoredPrompt("router mmlu", "llmrouter", "mmlu", {"a": 1, "b": 0}),
    ]
    split = holding_out_categories(data, ["health"])
    assert [p.prompt for p in split.test] == ["q1 anatomy"]
    assert [p.prompt for p in split.train] == ["q2 marketing", "pro business"]


def test_battles_file_accepts_sides_names_and_ties(tmp_path):
    path = tmp_path / "battles.jsonl"
    rows = [
        {"prompt": "p1", "model_a": "x", "model_b": "y", "winner": "model_a"},
        {"prompt": "p1", "model_a": "y", "model_b": "x", "winner": "x"},
        {"prompt": "p2", "model_a": "x", "model_b": "y", "winner": "tie"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    builder = BattleBuilder()
    assert read_battles_jsonl(path, builder) == 3
    b = builder.build()
    assert b.outcome.tolist() == [A_WINS, B_WINS, TIE]
    assert b.prompts == ["p1", "p2"]
    path.write_text(json.dumps({"prompt": "p", "model_a": "x", "model_b": "y", "winner": "z"}) + "\n")
    with pytest.raises(ValueError, match=":1:"):
        read_battles_jsonl(path, BattleBuilder())


def _synthetic_pair_battles(rng, n=600, dim=16):
    """The strong model wins when e·v > 0.5, the weak one when e·v < -1, otherwise a tie."""
    e = rng.normal(size=(n, dim)).astype(np.float32)
    v = np.zeros(dim)
    v[0] = 3.0
    z = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ v
    builder = BattleBuilder([STRONG, WEAK])
    for i in range(n):
        outcome = A_WINS if z[i] > 0.5 else B_WINS if z[i] < -1.0 else TIE
        builder.add(f"p{i}", STRONG, WEAK, outcome, "synthetic")
    return builder.build(), e, z


def _rank_corr(a, b):
    return np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1]


def _info(dim):
    return artifact.RouterModelInfo(
        "test",
        "1",
        "synthetic",
        dim,
        (STRONG, WEAK),
        STRONG,
        WEAK,
        calibration_reference="x",
        calibration_quantiles=(0.1, 0.5, 0.9),
    )


def _run(model, e):
    path_free = model.SerializeToString()
    return ort.InferenceSession(path_free).run([artifact.OUTPUT_NAME], {artifact.INPUT_NAME: e})[0]


def test_pair_router_learns_direction_and_is_a_probability():
    rng = np.random.default_rng(0)
    battles, e, z = _synthetic_pair_battles(rng)
    router = train_pair(battles, e, STRONG, WEAK, l2=1.0)
    p = router.win_probability(e)
    assert _rank_corr(p, z) > 0.9
    strictly_better = (z > 0.5).mean()
    assert abs(p.mean() - strictly_better) < 0.05  # calibrated to "strictly better", ties count as not
    onnx_p = _run(router.to_onnx(_info(e.shape[1])), e * 3.0)  # unit-normalised inside the graph
    assert np.max(np.abs(onnx_p - p)) < 1e-5


def test_mf_ordered_logit_learns_and_exports():
    rng = np.random.default_rng(1)
    battles, e, z = _synthetic_pair_battles(rng)
    config = MFConfig(dim=4, steps=300, lr=2e-2, weight_decay=1e-4)
    model = train_mf(battles, e, config, progress=False)
    p = model.win_probability(e, STRONG, WEAK, "synthetic")
    assert _rank_corr(p, z) > 0.9
    assert model.theta["synthetic"] > 0.1
    from orchestrouter.training.recipes import MFRouter

    onnx_p = _run(MFRouter(model, STRONG, WEAK, "synthetic", config).to_onnx(_info(e.shape[1])), e)
    assert np.max(np.abs(onnx_p - p)) < 1e-5


def test_routellm_recipe_drops_ties():
    rng = np.random.default_rng(2)
    battles, e, z = _synthetic_pair_battles(rng)
    model = train_mf(battles, e, MFConfig.routellm(dim=8, steps=200, lr=1e-2), progress=False)
    assert model.theta["synthetic"] == 0.0
    assert np.all(model.bias == 0.0)
    assert _rank_corr(model.win_probability(e, STRONG, WEAK, None), z) > 0.8
