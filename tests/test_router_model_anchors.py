"""The hand-written anchor prompts (a product prior, not yet in the default model's training) must stay
disjoint from the everyday evaluation set: no shared word 8-gram, no near-duplicate in WordLlama space."""

import json
from pathlib import Path

import numpy as np

from orchestrouter.router.embedders import WordLlamaEmbedder
from orchestrouter.training.decontamination import normalise_text
from orchestrouter.training.everyday import load_queries

ANCHORS = (
    Path(__file__).resolve().parents[1] / "scorer" / "orchestrouter" / "training" / "data" / "anchor_prompts.jsonl"
)


def _anchors():
    with ANCHORS.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def _grams(text, n=8):
    words = normalise_text(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_anchor_file_is_labelled_and_balanced():
    rows = _anchors()
    assert len(rows) >= 150
    assert {r["label"] for r in rows} == {"premium", "small"}
    kinds = {r["kind"] for r in rows}
    assert kinds == {"code", "math", "reasoning", "greeting", "fact", "creative"}
    premium = sum(r["label"] == "premium" for r in rows)
    assert 0.4 <= premium / len(rows) <= 0.6
    assert len({r["prompt"] for r in rows}) == len(rows)


def test_anchors_share_no_word_8gram_with_everyday_queries():
    everyday = set().union(*(_grams(q["prompt"]) for q in load_queries()))
    shared = [r["prompt"] for r in _anchors() if _grams(r["prompt"]) & everyday]
    assert shared == []


def test_anchors_are_not_near_duplicates_of_everyday_queries():
    embedder = WordLlamaEmbedder()
    a = np.asarray(embedder.embed([r["prompt"] for r in _anchors()]), dtype=np.float64)
    e = np.asarray(embedder.embed([q["prompt"] for q in load_queries()]), dtype=np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert float((a @ e.T).max()) <= 0.95
