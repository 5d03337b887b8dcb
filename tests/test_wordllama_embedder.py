"""WordLlamaEmbedder: the router's own computation gives WordLlama's embeddings to the bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wordllama
from wordllama import WordLlama

from orchestrouter.router.embedders import WORDLLAMA_DIM, WordLlamaEmbedder

TEXTS = [
    "What is the capital of France?",
    "hi!",
    "",  # no tokens: zeros, as in WordLlama
    "   ",
    "Write a SQL query that finds duplicate emails in a users table. " * 40,
    "日本語のテキスト 🎉 naïve café",
]


@pytest.fixture(scope="module")
def reference() -> WordLlama:
    package_dir = Path(wordllama.__file__).parent
    return WordLlama.load(config="l2_supercat", dim=WORDLLAMA_DIM, cache_dir=package_dir, disable_download=True)


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.mark.parametrize("text", TEXTS)
def test_one_text_embeds_as_wordllama_embeds_it(embedder: WordLlamaEmbedder, reference: WordLlama, text: str) -> None:
    ours = embedder.embed([text])
    assert ours.dtype == np.float32 and ours.shape == (1, WORDLLAMA_DIM) and ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, reference.embed([text]))


def test_a_batch_embeds_each_text_as_wordllama_pads_and_pools_them(
    embedder: WordLlamaEmbedder, reference: WordLlama
) -> None:
    ours = embedder.embed(TEXTS)
    np.testing.assert_array_equal(ours, reference.embed(TEXTS))
    assert not ours[2].any() and ours[0].any()


def test_no_texts_give_an_empty_matrix(embedder: WordLlamaEmbedder) -> None:
    assert embedder.embed([]).shape == (0, WORDLLAMA_DIM)
