"""train and eval say what work lies ahead before they start it: splits, prompts, what is still to embed."""

from __future__ import annotations

from pathlib import Path

from orchestrouter.training.build import TrainRequest
from orchestrouter.training.commands import _train_work_ahead
from orchestrouter.training.datasets import ScoredPrompt
from orchestrouter.training.embedding_cache import EmbeddingCache
from orchestrouter.training.evaluate import work_ahead
from orchestrouter.training.splits import Split
from tests.support.models import ConstantEmbedder


def prompts(n: int, source: str) -> list[ScoredPrompt]:
    return [ScoredPrompt(f"{source} question {i}", source, "g", {}) for i in range(n)]


def test_eval_states_its_splits_prompts_and_embeddings_ahead(tmp_path):
    data = prompts(30, "mmlu") + prompts(10, "gsm8k")
    cache = EmbeddingCache(ConstantEmbedder(), cache_dir=tmp_path)
    cache.embed([p.prompt for p in data[:5]], progress=False)
    todo = [("mmlu", Split("m1", data, [])), ("mmlu", Split("m2", data, [])), ("gsm8k", Split("g", data, []))]
    line = work_ahead(todo, data, cache, "gated")
    assert line.startswith("eval: recipe 'gated' on 3 held-out splits (mmlu 2, gsm8k 1) over 40 prompts")
    assert "35 of them to embed first" in line and "time left" in line and "\n" not in line


def test_train_states_its_prompts_embeddings_and_fits_ahead(tmp_path):
    data = prompts(12, "mmlu") + prompts(3, "arena")
    cache = EmbeddingCache(ConstantEmbedder(), cache_dir=tmp_path)
    line = _train_work_ahead(TrainRequest(out=Path("m.onnx"), recipe="pair"), data, cache)
    assert line.startswith("train: recipe 'pair' on 15 prompts (sets: arena, mmlu), 15 of them to embed first")
    assert "L2 chosen on validation folds" in line
    given = _train_work_ahead(TrainRequest(out=Path("m.onnx"), recipe="pair", l2=0.5), data, cache)
    assert "L2 0.5 as given" in given
