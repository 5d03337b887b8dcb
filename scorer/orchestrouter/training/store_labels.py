"""From the traffic store's pairs to labelled prompts: who was better, by the judges and the callers.

Each signal on a pair gives the premium and the small answer a score (1 better, 0 worse, 1/2 each
for a tie); a pair's scores are the mean over its signals:

- a judgment: its winner (both orders asked; a disagreement is already a tie);
- feedback on a served *small* answer: -1 (bad) means the premium answer was needed (premium 1,
  small 0); +1 (good) means the small answer did the job (a tie: premium not strictly better);
- feedback on a served premium answer, and 0 (neutral), say nothing about the small answer: unused.

The labelled prompts play the part of the benchmark data's scored prompts for the deployment's pair,
in the data's (premium, small) roles, so the same recipes train on both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from orchestrouter.store import StoredPair

from .datasets import STRONG, WEAK, ScoredPrompt

SOURCE = "store"
_WINNER_SCORES = {"premium": (1.0, 0.0), "small": (0.0, 1.0), "tie": (0.5, 0.5)}
_SMALL_FEEDBACK_SCORES = {-1: (1.0, 0.0), 1: (0.5, 0.5)}


@dataclass(frozen=True)
class StoreLabel:
    """StoreLabel: one pair's prompt, its request id and the two tiers' mean scores."""

    request_id: str
    prompt: str
    premium: float
    small: float
    signals: int

    def scored_prompt(self) -> ScoredPrompt:
        return ScoredPrompt(self.prompt, SOURCE, SOURCE, {STRONG: self.premium, WEAK: self.small})


def label_pair(pair: StoredPair) -> StoreLabel | None:
    """The pair's label by the rules above, or None when nothing says which answer was better."""
    scores = [_WINNER_SCORES[j.winner] for j in pair.judgments if j.winner in _WINNER_SCORES]
    if pair.request.answered_tier == "small":
        scores += [_SMALL_FEEDBACK_SCORES[f.rating] for f in pair.feedback if f.rating in _SMALL_FEEDBACK_SCORES]
    if not scores:
        return None
    premium, small = np.mean(scores, axis=0)
    return StoreLabel(pair.request.request_id, pair.request.query, float(premium), float(small), len(scores))


def label_pairs(pairs: Iterable[StoredPair]) -> list[StoreLabel]:
    return [label for pair in pairs if (label := label_pair(pair)) is not None]


def part_of(request_id: str) -> float:
    """A fixed number in [0, 1) per request id, so a pair stays in the same part from run to run."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64


@dataclass(frozen=True)
class StoreSplit:
    """StoreSplit: the labelled pairs to train on, to choose the weight on, and never to train on."""

    train: list[StoreLabel]
    validation: list[StoreLabel]
    test: list[StoreLabel]


def split_labels(labels: Sequence[StoreLabel], validation: float = 0.2, test: float = 0.2) -> StoreSplit:
    parts: tuple[list[StoreLabel], list[StoreLabel], list[StoreLabel]] = ([], [], [])
    for label in labels:
        x = part_of(label.request_id)
        parts[2 if x < test else 1 if x < test + validation else 0].append(label)
    return StoreSplit(*parts)
