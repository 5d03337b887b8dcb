"""`orchestrouter train --from-store`: judged pairs and feedback become battles; the new router beats the live one
on store pairs it never trained on, when the traffic holds something the live router does not know."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np

from orchestrouter.router.embedders import WordLlamaEmbedder
from orchestrouter.scorer import artifact
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.store import Feedback, Judgment, StoredPair, open_store
from orchestrouter.tools.loop_fakes import traffic
from orchestrouter.training.datasets import STRONG, WEAK, ScoredPrompt
from orchestrouter.training.embedding_cache import EmbeddingCache, _key
from orchestrouter.training.from_store import STORE_SHARES, retrain_from_store
from orchestrouter.training.store_labels import label_pair, label_pairs, split_labels
from tests.support.store_pairs import pair_record, record_world

_APGR = re.compile(r"APGR on the (\d+) test pairs: new ([\d.]+), live ([\d.]+)")


def judged_world(url: str) -> list[StoredPair]:
    """The simulated world's 360 requests, each judged as the hidden rule says."""
    store = open_store(url)
    prompts = traffic()
    for record, p in zip(record_world(store, prompts), prompts, strict=True):
        winner, verdicts = ("premium", ("B", "A")) if p.hard else ("tie", ("C", "C"))
        store.record_judgment(Judgment(record.request_id, "judge", winner, verdicts, 0.0, time.time()))
    pairs = list(store.pairs())
    store.close()
    return pairs


def train_from_store(url: str, out, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "orchestrouter.cli", "train", "--from-store", url, "--out", str(out), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_feedback_and_judgments_make_the_label():
    record = pair_record("r1", "q", "small answer", "premium answer", answered="small")
    now = time.time()

    def label(judgments=(), feedback=(), rec=record):
        return label_pair(StoredPair(rec, tuple(judgments), tuple(feedback)))

    bad, good, meh = (Feedback("r1", "", rating, "", now) for rating in (-1, 1, 0))
    judged_premium = Judgment("r1", "j", "premium", ("B", "A"), 0.0, now)
    assert label() is None and label(feedback=[meh]) is None
    assert (label(feedback=[bad]).premium, label(feedback=[bad]).small) == (1.0, 0.0)
    assert (label(feedback=[good]).premium, label(feedback=[good]).small) == (0.5, 0.5)
    both = label([judged_premium], [good])
    assert (both.premium, both.small, both.signals) == (0.75, 0.25, 2)
    # Feedback on a premium answer says nothing about the small one.
    served_premium = pair_record("r1", "q", "s", "p", answered="premium")
    assert label(feedback=[bad], rec=served_premium) is None


def test_the_split_is_fixed_by_request_id():
    labels = label_pairs(judged_world_pairs())
    first, second = split_labels(labels), split_labels(list(reversed(labels)))
    assert {x.request_id for x in first.test} == {x.request_id for x in second.test}
    assert 0.1 < len(first.test) / len(labels) < 0.3 and 0.1 < len(first.validation) / len(labels) < 0.3


def judged_world_pairs() -> list[StoredPair]:
    now = time.time()
    return [
        StoredPair(pair_record(f"r{i}", p.text, "s", "p"), (Judgment(f"r{i}", "j", "tie", ("C", "C"), 0, now),), ())
        for i, p in enumerate(traffic())
    ]


def test_the_store_alone_teaches_what_the_live_router_does_not_know(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    judged_world(url)
    out = tmp_path / "new.onnx"

    done = train_from_store(url, out, "--no-data")

    assert done.returncode == 0, done.stderr
    match = _APGR.search(done.stdout)
    assert match, done.stdout
    n, new, live = int(match[1]), float(match[2]), float(match[3])
    assert n >= 40 and new >= live + 0.15, done.stdout
    info = ScoringEngine(out).info
    assert info.training_data["store_labelled_pairs"] == 360
    assert info.calibration_reference == "traffic store (360 requests)"
    assert info.strong_model == STRONG and info.training_data["deployment_models"] == {
        "small": "small-model",
        "premium": "premium-model",
    }


def test_too_few_labels_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    record_world(store, traffic()[:5])
    store.close()
    done = train_from_store(url, tmp_path / "new.onnx", "--no-data")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "orchestrouter judge" in done.stderr


def synthetic_exam_data(n: int = 80) -> list[ScoredPrompt]:
    """Exam-style questions with the data's pair scored on them, each side winning some."""
    rng = np.random.default_rng(0)
    subjects = ("chemistry", "history", "law", "biology", "physics", "economics", "geometry", "music")
    out = []
    for i in range(n):
        subject = subjects[i % len(subjects)]
        prompt = f"Question {i} on {subject}: which statement is true?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
        strong, weak = (1.0, 0.0) if rng.random() < 0.5 else (0.0, 1.0)
        out.append(ScoredPrompt(prompt, "mmlu", f"{subject}", {STRONG: strong, WEAK: weak}))
    return out


def test_combined_with_benchmark_data_the_store_share_is_chosen_on_validation(tmp_path):
    pairs = judged_world(f"sqlite:///{tmp_path / 'store.db'}")
    cache = EmbeddingCache(WordLlamaEmbedder(), cache_dir=tmp_path / "cache")
    out = tmp_path / "new.onnx"

    result = retrain_from_store(pairs, synthetic_exam_data(), cache, out, artifact.DEFAULT_MODEL_PATH)

    assert tuple(result.validation_apgr) == STORE_SHARES and result.chosen > 0
    assert result.validation_apgr[result.chosen] > result.validation_apgr[0.0]
    assert result.new_apgr is not None and result.live_apgr is not None
    assert result.new_apgr >= result.live_apgr + 0.15
    assert ScoringEngine(out).info.training_data["recipe"] == "gated"
    # Store prompts never reach the embedding cache on disk.
    cached = EmbeddingCache(WordLlamaEmbedder(), cache_dir=tmp_path / "cache")
    assert cached.path.is_file() and len(cached._rows) > 0
    assert not any(_key(p.request.query) in cached._rows for p in pairs)


def test_out_is_required(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    command = [sys.executable, "-m", "orchestrouter.cli", "train", "--from-store", url, "--no-data"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--out" in done.stderr and done.stderr.count("\n") == 1
