"""Finds training prompts that copy an evaluation prompt, exactly or inside a longer prompt.

Data sets quote each other: LLMRouter's ``gsm8k`` and ``agentverse-mgsm`` tasks reuse GSM8K
problems, MMLU-Pro keeps MMLU questions with new options. Besides dropping such sets by name,
each split drops every training prompt that shares enough word 8-grams with the evaluation
prompts (after folding case, quotes and punctuation) to be a copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z0-9]+")
NGRAM = 8


def normalise_text(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _ngrams(words: Sequence[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def copies_of(
    candidates: Sequence[str], references: Iterable[str], min_shared: int = 5, min_fraction: float = 0.5
) -> list[bool]:
    """For each candidate: does it copy one of ``references``?

    A copy shares at least ``min_shared`` 8-grams with the references (a quoted question inside
    a longer prompt) or at least ``min_fraction`` of its own 8-grams (a short question).
    """
    seen: set[tuple[str, ...]] = set()
    for text in references:
        seen |= _ngrams(normalise_text(text))
    flags = []
    for text in candidates:
        grams = _ngrams(normalise_text(text))
        shared = sum(g in seen for g in grams)
        flags.append(bool(grams) and (shared >= min_shared or shared >= min_fraction * len(grams)))
    return flags
