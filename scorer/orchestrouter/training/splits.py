"""Evaluation splits: what each held-out set is, and what training must leave out for it.

- MMLU leave-domains-out: the 57 MMLU domains grouped into the 14 subject categories MMLU-Pro
  assigns them (its ``src`` column names each question's MMLU domain); k folds of whole
  categories. A fold's training set drops the held-out categories from MMLU *and* MMLU-Pro (whose
  questions are MMLU's or the same subjects from other sources), LLMRouter's ``mmlu`` task (MMLU-like
  questions with no domain label), and any prompt that copies a held-out question.
- GSM8K: the whole set held out; training drops LLMRouter's ``gsm8k`` and ``agentverse-mgsm``
  (MGSM translates GSM8K problems) tasks and any prompt that copies a GSM8K question.
- Arena-bench: k folds of the 300 chat prompts; training drops the held-out prompts and copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .datasets import ScoredPrompt
from .decontamination import copies_of

# MMLU domain -> MMLU-Pro category, read off MMLU-Pro's ``src`` column (ori_mmlu-<domain>).
# moral_scenarios is the one domain MMLU-Pro dropped; it sits with its sibling moral_disputes.
_CATEGORY_DOMAINS = {
    "math": [
        "abstract_algebra",
        "college_mathematics",
        "elementary_mathematics",
        "high_school_mathematics",
        "high_school_statistics",
    ],
    "physics": ["astronomy", "college_physics", "conceptual_physics", "high_school_physics"],
    "chemistry": ["college_chemistry", "high_school_chemistry"],
    "biology": ["college_biology", "high_school_biology"],
    "health": [
        "anatomy",
        "clinical_knowledge",
        "college_medicine",
        "human_aging",
        "medical_genetics",
        "nutrition",
        "professional_medicine",
        "virology",
    ],
    "computer science": [
        "college_computer_science",
        "computer_security",
        "high_school_computer_science",
        "machine_learning",
    ],
    "engineering": ["electrical_engineering"],
    "economics": ["econometrics", "high_school_macroeconomics", "high_school_microeconomics"],
    "business": ["business_ethics", "management", "marketing"],
    "law": ["international_law", "jurisprudence", "professional_law"],
    "psychology": ["high_school_psychology", "professional_psychology"],
    "history": ["high_school_european_history", "high_school_us_history", "high_school_world_history", "prehistory"],
    "philosophy": [
        "formal_logic",
        "logical_fallacies",
        "moral_disputes",
        "moral_scenarios",
        "philosophy",
        "world_religions",
    ],
    "other": [
        "global_facts",
        "high_school_geography",
        "high_school_government_and_politics",
        "human_sexuality",
        "miscellaneous",
        "professional_accounting",
        "public_relations",
        "security_studies",
        "sociology",
        "us_foreign_policy",
    ],
}
MMLU_CATEGORY = {d: cat for cat, domains in _CATEGORY_DOMAINS.items() for d in domains}
CATEGORIES = tuple(_CATEGORY_DOMAINS)

GSM8K_COPY_TASKS = {"gsm8k", "agentverse-mgsm"}
MMLU_LIKE_TASKS = {"mmlu"}


@dataclass(frozen=True)
class Split:
    """Split: a named held-out set and the training prompts allowed beside it."""

    name: str
    train: list[ScoredPrompt]
    test: list[ScoredPrompt]


def category_of(p: ScoredPrompt) -> str | None:
    """The subject category of an MMLU or MMLU-Pro prompt; None for other sets."""
    if p.source == "mmlu":
        return MMLU_CATEGORY[p.group]
    if p.source == "mmlu-pro":
        return p.group.split(":", 1)[0]
    return None


def category_folds(data: Sequence[ScoredPrompt], k: int) -> list[tuple[str, ...]]:
    """k groups of categories, balanced by MMLU rows: largest first, each to the smallest fold."""
    sizes = {c: 0 for c in CATEGORIES}
    for p in data:
        if p.source == "mmlu":
            sizes[str(category_of(p))] += 1
    folds: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for cat in sorted(CATEGORIES, key=lambda c: (-sizes[c], c)):
        i = int(np.argmin(load))
        folds[i].append(cat)
        load[i] += sizes[cat]
    return [tuple(sorted(f)) for f in folds]


def _decontaminate(train: list[ScoredPrompt], test: list[ScoredPrompt]) -> list[ScoredPrompt]:
    flags = copies_of([p.prompt for p in train], [p.prompt for p in test])
    return [p for p, copy in zip(train, flags, strict=True) if not copy]


def holding_out_categories(data: Sequence[ScoredPrompt], categories: Sequence[str], name: str = "") -> Split:
    held = set(categories)
    test = [p for p in data if p.source == "mmlu" and category_of(p) in held]
    train = [
        p for p in data if category_of(p) not in held and not (p.source == "llmrouter" and p.group in MMLU_LIKE_TASKS)
    ]
    return Split(name or "mmlu:" + "+".join(sorted(held)), _decontaminate(train, test), test)


def mmlu_splits(data: Sequence[ScoredPrompt], k: int = 5) -> list[Split]:
    return [holding_out_categories(data, fold, f"mmlu-fold{i + 1}") for i, fold in enumerate(category_folds(data, k))]


def gsm8k_split(data: Sequence[ScoredPrompt]) -> Split:
    test = [p for p in data if p.source == "gsm8k"]
    train = [p for p in data if p.source != "gsm8k" and not (p.source == "llmrouter" and p.group in GSM8K_COPY_TASKS)]
    return Split("gsm8k", _decontaminate(train, test), test)


def arena_splits(data: Sequence[ScoredPrompt], k: int = 5, seed: int = 0) -> list[Split]:
    arena = [p for p in data if p.source == "arena"]
    order = np.random.default_rng(seed).permutation(len(arena))
    out = []
    for i in range(k):
        held = {int(j) for j in order[i::k]}
        test = [arena[j] for j in sorted(held)]
        test_ids = {id(p) for p in test}
        train = [p for p in data if id(p) not in test_ids]
        out.append(Split(f"arena-fold{i + 1}", _decontaminate(train, test), test))
    return out


def evaluation_splits(data: Sequence[ScoredPrompt], mmlu_k: int = 5, arena_k: int = 5) -> dict[str, list[Split]]:
    return {"mmlu": mmlu_splits(data, mmlu_k), "gsm8k": [gsm8k_split(data)], "arena": arena_splits(data, arena_k)}
