"""Battles: (prompt, model_a, model_b, outcome) rows, from scored prompts or a JSON-lines file.

Outcome codes: ``A_WINS`` (model_a strictly better), ``B_WINS``, ``TIE``. Every battle carries a
``tie_group`` (the data set it came from): how often two answers tie depends on how answers are
scored (1/0 correctness ties far more often than a 1-10 judge score), so the trainer learns one
tie width per group.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import ScoredPrompt

A_WINS, B_WINS, TIE = 0, 1, 2
_WINNER_CODES = {"model_a": A_WINS, "model_b": B_WINS, "tie": TIE}


@dataclass
class Battles:
    """Battles as parallel arrays; ``prompt`` indexes ``prompts``, models index ``models``."""

    prompts: list[str]
    models: list[str]
    tie_groups: list[str]
    prompt: np.ndarray
    model_a: np.ndarray
    model_b: np.ndarray
    outcome: np.ndarray
    tie_group: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.outcome.size)

    def counts(self) -> dict[str, int]:
        return {
            "battles": len(self),
            "prompts": len(self.prompts),
            "models": len(self.models),
            "a_wins": int((self.outcome == A_WINS).sum()),
            "b_wins": int((self.outcome == B_WINS).sum()),
            "ties": int((self.outcome == TIE).sum()),
        }


class BattleBuilder:
    """Collects battles one at a time and packs them into :class:`Battles`."""

    def __init__(self, models: Sequence[str] = ()) -> None:
        self._prompt_ids: dict[str, int] = {}
        self._model_ids: dict[str, int] = {m: i for i, m in enumerate(models)}
        self._group_ids: dict[str, int] = {}
        self._rows: list[tuple[int, int, int, int, int, float]] = []

    @staticmethod
    def _id(table: dict[str, int], key: str) -> int:
        return table.setdefault(key, len(table))

    def add(self, prompt: str, model_a: str, model_b: str, outcome: int, tie_group: str, weight: float = 1.0) -> None:
        if model_a == model_b:
            raise ValueError(f"a battle needs two different models, got {model_a!r} twice")
        self._rows.append(
            (
                self._id(self._prompt_ids, prompt),
                self._id(self._model_ids, model_a),
                self._id(self._model_ids, model_b),
                outcome,
                self._id(self._group_ids, tie_group),
                weight,
            )
        )

    def build(self) -> Battles:
        rows = np.array(self._rows, dtype=np.float64).reshape(-1, 6)
        return Battles(
            prompts=list(self._prompt_ids),
            models=list(self._model_ids),
            tie_groups=list(self._group_ids),
            prompt=rows[:, 0].astype(np.int64),
            model_a=rows[:, 1].astype(np.int64),
            model_b=rows[:, 2].astype(np.int64),
            outcome=rows[:, 3].astype(np.int64),
            tie_group=rows[:, 4].astype(np.int64),
            weight=rows[:, 5],
        )


def outcome_of(score_a: float, score_b: float) -> int:
    if score_a > score_b:
        return A_WINS
    return B_WINS if score_b > score_a else TIE


def add_scored_prompts(
    builder: BattleBuilder,
    prompts: Iterable[ScoredPrompt],
    pairs: Mapping[str, Sequence[tuple[str, str]] | None],
    weights: dict[str, float] | None = None,
    max_pairs_per_prompt: int = 0,
    seed: int = 0,
) -> None:
    """Turns each scored prompt into battles.

    ``pairs[source]`` lists the model pairs to take from that source, or None for every pair of
    models scored on the prompt (at most ``max_pairs_per_prompt`` of them, drawn at random, when
    that is positive: MMLU-Pro's 29 models make 406 pairs a question); a source missing from
    ``pairs`` is skipped.
    """
    weights = weights or {}
    rng = np.random.default_rng(seed)
    for p in prompts:
        if p.source not in pairs:
            continue
        chosen = pairs[p.source]
        if chosen is None:
            names = sorted(p.scores)
            chosen = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
            if 0 < max_pairs_per_prompt < len(chosen):
                chosen = [chosen[i] for i in rng.choice(len(chosen), max_pairs_per_prompt, replace=False)]
        for a, b in chosen:
            if a in p.scores and b in p.scores:
                builder.add(p.prompt, a, b, outcome_of(p.scores[a], p.scores[b]), p.source, weights.get(p.source, 1.0))


def read_battles_jsonl(path: Path, builder: BattleBuilder, tie_group: str = "user") -> int:
    """Adds battles from JSON lines ``{prompt, model_a, model_b, winner}``; winner names a side or ``tie``."""
    added = 0
    with Path(path).open() as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                winner = str(row["winner"])
                code = _WINNER_CODES.get(winner)
                if code is None:
                    code = {row["model_a"]: A_WINS, row["model_b"]: B_WINS}.get(winner)
                if code is None:
                    raise ValueError(f"winner {winner!r} is not model_a, model_b, tie or a model name")
                builder.add(str(row["prompt"]), str(row["model_a"]), str(row["model_b"]), code, tie_group)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
            added += 1
    return added
