"""The four public data sets in a data folder (``orchestrouter train --data-dir``), read into one shape:
scored prompts. Where each set comes from and the files each loader reads: ``orchestrouter train --help``.

A :class:`ScoredPrompt` is one prompt with a score per model (higher is better: 1/0 correctness,
a 1-10 judge score, a 0..1 task metric). Any two models' scores on one prompt make a battle.
Model names are normalised (lower case, no org prefix, no ``_5shots`` suffix) so that the same
model matches across sets: ``gpt-4-1106-preview``, ``mixtral-8x7b-instruct-v0.1``.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

STRONG = "gpt-4-1106-preview"
WEAK = "mixtral-8x7b-instruct-v0.1"


@dataclass(frozen=True)
class ScoredPrompt:
    """One prompt and each model's score on it. ``group`` is its domain, category or task."""

    prompt: str
    source: str
    group: str
    scores: dict[str, float] = field(hash=False)


def normalise_model(name: str) -> str:
    name = name.strip().split("/")[-1].lower()
    return re.sub(r"_5shots$", "", name)


def _bool(cell: str) -> float:
    return 1.0 if cell.strip().lower() in ("true", "1", "1.0") else 0.0


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSON-lines file, blank lines skipped."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _read_contaminated(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {row["eval_prompt"] for row in read_jsonl(path)}


def load_mmlu(data_dir: Path) -> list[ScoredPrompt]:
    """RouteLLM's MMLU outcomes, 57 domains, minus its contaminated prompts."""
    folder = data_dir / "routellm-evals" / "mmlu"
    contaminated = _read_contaminated(folder / "contaminated_prompts.jsonl")
    csv.field_size_limit(sys.maxsize)
    out = []
    for path in sorted(folder.glob("mmlu_*.csv")):
        domain = path.stem[len("mmlu_") :]
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row["prompt"] in contaminated:
                    continue
                scores = {normalise_model(k): _bool(v) for k, v in row.items() if k != "prompt"}
                out.append(ScoredPrompt(row["prompt"], "mmlu", domain, scores))
    return out


def load_gsm8k(data_dir: Path) -> list[ScoredPrompt]:
    """RouteLLM's GSM8K outcomes, minus its contaminated prompts."""
    folder = data_dir / "routellm-evals" / "gsm8k"
    contaminated = _read_contaminated(folder / "contaminated_prompts.jsonl")
    csv.field_size_limit(sys.maxsize)
    out = []
    with (folder / "gsm8k_responses.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["prompt"] in contaminated:
                continue
            scores = {
                normalise_model(k): _bool(v) for k, v in row.items() if k != "prompt" and not k.endswith("_response")
            }
            out.append(ScoredPrompt(row["prompt"], "gsm8k", "gsm8k", scores))
    return out


def load_arena(data_dir: Path) -> list[ScoredPrompt]:
    """Arena-bench v1: 300 chat prompts, GPT-4 judge scores 1-10 of 15 models (turn 1)."""
    folder = data_dir / "arena-bench-v1"
    prompts = {q["question_id"]: q["turns"][0] for q in read_jsonl(folder / "question.jsonl")}
    scores: dict[str, dict[str, float]] = {}
    with (folder / "gpt4_single_scores.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["turn"] == "1" and row["score"].strip():
                scores.setdefault(row["question_id"], {})[normalise_model(row["model"])] = float(row["score"])
    return [ScoredPrompt(prompts[qid], "arena", "arena", s) for qid, s in scores.items() if qid in prompts]


def _mmlu_pro_prompt(q: dict) -> str:
    options = "\n".join(f"{chr(65 + i)}. {opt}" for i, opt in enumerate(q["options"]))
    return f"{q['question']}\n{options}\nAnswer:"


def load_mmlu_pro(data_dir: Path) -> list[ScoredPrompt]:
    """MMLU-Pro: 29 models' correctness. ``group`` is ``category:src`` (src names any MMLU origin)."""
    folder = data_dir / "mmlu-pro"
    questions = {str(q["question_id"]): q for q in read_jsonl(folder / "questions.jsonl")}
    out = []
    with (folder / "correctness_matrix.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            q = questions.get(row["question_id"])
            if q is None:
                continue
            scores = {normalise_model(k): float(v) for k, v in row.items() if k != "question_id" and v.strip() != ""}
            out.append(ScoredPrompt(_mmlu_pro_prompt(q), "mmlu-pro", f"{q['category']}:{q['src']}", scores))
    return out


def load_llmrouter(data_dir: Path) -> list[ScoredPrompt]:
    """LLMRouter: 9 open models' 0..1 scores on 14 tasks (train and test files both)."""
    folder = data_dir / "llmrouter"
    task_of = {
        q["query"]: q["task_name"]
        for split in ("train", "test")
        for q in read_jsonl(folder / f"default_query_{split}.jsonl")
    }
    out = []
    for split in ("train", "test"):
        with (folder / f"dcrouter_{split}.json").open() as f:
            for item in json.load(f):
                scores = {normalise_model(k): float(v) for k, v in item["scores"].items()}
                task = task_of.get(item["question"], "unknown")
                out.append(ScoredPrompt(item["question"], "llmrouter", task, scores))
    return out


LOADERS = {
    "mmlu": load_mmlu,
    "gsm8k": load_gsm8k,
    "arena": load_arena,
    "mmlu-pro": load_mmlu_pro,
    "llmrouter": load_llmrouter,
}


def load_all(data_dir: Path, sources: tuple[str, ...] = tuple(LOADERS)) -> list[ScoredPrompt]:
    """Every prompt of the named sets in ``data_dir``, each set in its own subfolder."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory not found: {data_dir}")
    out = []
    for name in sources:
        out.extend(LOADERS[name](data_dir))
    return out
