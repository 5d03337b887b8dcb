"""The ``gated`` recipe: the benchmark-trained pair direction, plus a task prior for open requests.

The only outcome labels for the scored pair (GPT-4-1106 vs Mixtral) are exam questions (MMLU,
GSM8K). Their direction ranks held-out exam questions well, but on everyday requests it points
at long prose and away from math (GPT-4-1106 does no better than Mixtral on high-school math in
that data). So the router adds a second, gated term:

    z(x) = z_pair(x) + λ · (1 - g(x)) · z_task(x),   x = e/|e|,   P = σ(z)

- ``z_pair``: the ``pair`` recipe (P(premium strictly better), calibrated on the pair's battles).
- ``z_task``: "does this kind of request need a capable model?", a logistic head on task labels:
  LLMRouter's code, math, logic-grid and GPQA queries (premium) against its trivia, open-domain
  QA, commonsense and sentence-writing queries (small), plus ``data/anchor_prompts.jsonl``, a
  hand-written set of everyday requests labelled with the reference deployment's behaviour
  (code, math, multi-step reasoning escalate; greetings, simple facts, light creative do not).
- ``g``: a sharp format gate, P(exam-style multiple-choice question), trained on MMLU/MMLU-Pro
  prompts (and open requests dressed with answer options) against open requests. On exam
  questions g ≈ 1 and the pair direction decides alone.

λ is chosen on validation folds inside the training data: the largest value whose held-out-
category MMLU APGR stays within ``LAMBDA_TOLERANCE`` of the pair direction alone. The everyday
query set is never used to fit or choose anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from orchestrouter.scorer import artifact

from . import onnx_graphs
from .datasets import STRONG, WEAK, ScoredPrompt, read_jsonl
from .embedding_cache import EmbeddingCache
from .logistic import fit_logistic, sigmoid
from .metrics import pgr_curve
from .recipes import PairRouter, train_pair, unit_rows
from .splits import category_folds, holding_out_categories

ANCHORS_PATH = Path(__file__).parent / "data" / "anchor_prompts.jsonl"
PREMIUM_TASKS = frozenset({"math", "human_eval", "mbpp", "agentverse-logicgrid", "gpqa", "gsm8k", "agentverse-mgsm"})
SMALL_TASKS = frozenset({"trivia_qa", "natural_qa", "commonsense_qa", "openbook_qa", "arc_challenge", "commongen"})
# Open (non-multiple-choice) LLMRouter tasks: the gate's "not an exam question" side.
OPEN_TASKS = frozenset(
    {
        "math",
        "human_eval",
        "mbpp",
        "gsm8k",
        "agentverse-mgsm",
        "natural_qa",
        "trivia_qa",
        "commongen",
        "gpqa",
        "agentverse-logicgrid",
    }
)
# GSM8K copies: dropped when GSM8K is held out (the split code removes source "gsm8k" itself).
GSM8K_TASKS = frozenset({"gsm8k", "agentverse-mgsm"})
TASK_L2 = 10.0
ANCHOR_WEIGHT = 5.0
GATE_L2 = 1.0
# The gate multiplies its logit by this, so it is close to 0 or 1 except on borderline prompts.
GATE_SHARPNESS = 3.0
GATE_EXAM_SAMPLE = 4000
GATE_DRESSED_SAMPLE = 2000
# Answer options for open requests dressed as exam questions (see ``dress_as_exam``).
_OPTION_FILLERS = (
    "0",
    "1",
    "2",
    "4",
    "6",
    "12",
    "-1",
    "7.5",
    "x = 3",
    "True",
    "False",
    "Paris",
    "none of these",
    "all of the above",
)
LAMBDA_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)
LAMBDA_TOLERANCE = 0.01


def load_anchors(path: Path = ANCHORS_PATH) -> list[dict]:
    return read_jsonl(path)


@dataclass
class GatedRouter:
    """GatedRouter: σ(z_pair + λ (1 - g) z_task) on unit-length embeddings."""

    pair: PairRouter
    task_u: np.ndarray
    task_b: float
    gate_v: np.ndarray
    gate_c: float
    weight: float
    sharpness: float = GATE_SHARPNESS

    def gate(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.sharpness * (x @ self.gate_v + self.gate_c))

    def logit(self, embeddings: np.ndarray) -> np.ndarray:
        x = unit_rows(embeddings)
        z_pair = x @ self.pair.u + self.pair.bias
        return z_pair + self.weight * (1.0 - self.gate(x)) * (x @ self.task_u + self.task_b)

    def win_probability(self, embeddings: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(embeddings))

    def to_onnx(self, info: artifact.RouterModelInfo) -> onnx.ModelProto:
        return onnx_graphs.build_gated_router(
            self.pair.u,
            self.pair.bias,
            self.task_u,
            self.task_b,
            self.sharpness * self.gate_v,
            self.sharpness * self.gate_c,
            self.weight,
            info,
        )

    def describe(self) -> dict:
        return {
            "recipe": "gated",
            "l2": self.pair.l2,
            "task_weight": self.weight,
            "gate_sharpness": self.sharpness,
            "task_l2": TASK_L2,
            "anchor_weight": ANCHOR_WEIGHT,
            "anchors": len(load_anchors()),
        }


@dataclass
class _Heads:
    pair: PairRouter
    task_u: np.ndarray
    task_b: float
    gate_v: np.ndarray
    gate_c: float

    def router(self, weight: float) -> GatedRouter:
        return GatedRouter(self.pair, self.task_u, self.task_b, self.gate_v, self.gate_c, weight)


def _llmrouter(prompts: Sequence[ScoredPrompt], tasks: frozenset[str]) -> list[ScoredPrompt]:
    # Without GSM8K in the training data (GSM8K held out), its copies inside LLMRouter go too.
    gsm8k_held_out = not any(p.source == "gsm8k" for p in prompts)
    return [
        p
        for p in prompts
        if p.source == "llmrouter" and p.group in tasks and not (gsm8k_held_out and p.group in GSM8K_TASKS)
    ]


def train_task_head(
    prompts: Sequence[ScoredPrompt], cache: EmbeddingCache, anchors: Sequence[dict]
) -> tuple[np.ndarray, float]:
    tasks = _llmrouter(prompts, PREMIUM_TASKS | SMALL_TASKS)
    texts = [p.prompt for p in tasks] + [a["prompt"] for a in anchors]
    y = np.r_[[p.group in PREMIUM_TASKS for p in tasks], [a["label"] == "premium" for a in anchors]].astype(float)
    w = np.r_[np.ones(len(tasks)), np.full(len(anchors), ANCHOR_WEIGHT)]
    return fit_logistic(unit_rows(cache.embed(texts, progress=False)), y, weight=w, l2=TASK_L2)


def dress_as_exam(texts: Sequence[str], rng: np.random.Generator) -> list[str]:
    """The same requests with four answer options and "Answer:" appended, as MMLU prompts end.

    Seen on both sides of the gate, the same content teaches it the exam *format* rather than
    the exam domains, so it also closes on subjects held out of its training data.
    """

    def options() -> str:
        return "\n".join(f"{letter}. {_OPTION_FILLERS[rng.integers(len(_OPTION_FILLERS))]}" for letter in "ABCD")

    return [f"{text}\n{options()}\nAnswer:" for text in texts]


def train_gate(
    prompts: Sequence[ScoredPrompt], cache: EmbeddingCache, anchors: Sequence[dict]
) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(0)
    exam = [p.prompt for p in prompts if p.source in ("mmlu", "mmlu-pro")]
    if len(exam) > GATE_EXAM_SAMPLE:
        exam = list(rng.choice(exam, GATE_EXAM_SAMPLE, replace=False))
    open_requests = (
        [p.prompt for p in _llmrouter(prompts, OPEN_TASKS)]
        + [p.prompt for p in prompts if p.source == "arena"]
        + [a["prompt"] for a in anchors]
    )
    if not exam or not open_requests:
        raise ValueError("the gated recipe needs exam questions and open requests in its training data")
    picked = rng.choice(len(open_requests), min(len(open_requests), GATE_DRESSED_SAMPLE), replace=False)
    exam += dress_as_exam([open_requests[i] for i in picked], rng)
    y = np.r_[np.ones(len(exam)), np.zeros(len(open_requests))]
    # Both sides weigh the same in total.
    w = np.r_[np.full(len(exam), len(open_requests) / len(exam)), np.ones(len(open_requests))]
    return fit_logistic(unit_rows(cache.embed(exam + open_requests, progress=False)), y, weight=w, l2=GATE_L2)


def train_heads(
    prompts: Sequence[ScoredPrompt], pair: PairRouter, cache: EmbeddingCache, anchors: Sequence[dict]
) -> _Heads:
    task_u, task_b = train_task_head(prompts, cache, anchors)
    gate_v, gate_c = train_gate(prompts, cache, anchors)
    return _Heads(pair, task_u, task_b, gate_v, gate_c)


def validation_apgr_by_weight(
    prompts: Sequence[ScoredPrompt], cache: EmbeddingCache, l2: float, anchors: Sequence[dict], folds: int = 3
) -> dict[float, float]:
    """Mean held-out-category MMLU APGR for each λ, on folds inside ``prompts``."""
    from .pipeline import build_battles

    values: dict[float, list[float]] = {w: [] for w in LAMBDA_GRID}
    for held in category_folds(prompts, folds):
        split = holding_out_categories(prompts, held)
        test = [p for p in split.test if p.source == "mmlu"]
        if not test:
            continue
        battles = build_battles(split.train, "pair")
        pair = train_pair(battles, cache.embed(battles.prompts, progress=False), STRONG, WEAK, l2)
        heads = train_heads(split.train, pair, cache, anchors)
        x = cache.embed([p.prompt for p in test], progress=False)
        strong = np.array([p.scores[STRONG] for p in test])
        weak = np.array([p.scores[WEAK] for p in test])
        for w in LAMBDA_GRID:
            values[w].append(pgr_curve(heads.router(w).logit(x), strong, weak).apgr())
    return {w: float(np.mean(v)) for w, v in values.items() if v}


def choose_weight(validation: dict[float, float]) -> float:
    """The largest λ whose validation APGR is within LAMBDA_TOLERANCE of λ = 0's."""
    if not validation:
        return 0.0
    floor = validation[0.0] - LAMBDA_TOLERANCE
    return max(w for w, apgr in validation.items() if apgr >= floor)


def train_gated(
    prompts: Sequence[ScoredPrompt], cache: EmbeddingCache, l2: float, weight: float | None = None
) -> tuple[GatedRouter, dict[float, float]]:
    """Trains all three heads on ``prompts``; λ from nested validation unless given."""
    from .pipeline import build_battles

    anchors = load_anchors()
    validation = {} if weight is not None else validation_apgr_by_weight(prompts, cache, l2, anchors)
    chosen = weight if weight is not None else choose_weight(validation)
    battles = build_battles(prompts, "pair")
    pair = train_pair(battles, cache.embed(battles.prompts, progress=False), STRONG, WEAK, l2)
    return train_heads(prompts, pair, cache, anchors).router(chosen), validation
