"""``orchestrouter train --from-store``: a router retrained on the deployment's own judged traffic.

The store's labelled pairs (``store_labels``) are split by request id into a training part (60%), a
validation part (20%) and a test part (20%) that is never trained on. Their battles join the
benchmark data's battles for the pair, weighted so that the store carries a given *share* of the
pair's training weight; the share with the best validation APGR is kept, the router is trained
again on the training and validation parts, and the test part's APGR is reported beside the live
router's on the same prompts. The task prior and the exam gate of the ``gated`` recipe come from
the benchmark data as before (with the shipped model's task weight), so only the pair direction moves.
Without benchmark data (``--no-data``) a direction is fitted on the store alone, its L2 chosen on the
validation part the same way.

Store prompts are embedded in memory, never written to the embedding cache on disk: prompt text
(and what can be told from it) stays in the store, under its retention period.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrouter.router.calibration import Calibration
from orchestrouter.scorer import artifact
from orchestrouter.scorer.engine import ScoringEngine
from orchestrouter.store import StoredPair

from . import onnx_graphs
from .battles import BattleBuilder, Battles, add_scored_prompts
from .build import ROUTER_ID
from .calibration import REFERENCE_NAME, reference_prompts
from .datasets import STRONG, WEAK, ScoredPrompt
from .embedding_cache import EmbeddingCache
from .gated import GatedRouter, load_anchors, train_gate, train_task_head
from .logistic import fit_logistic
from .metrics import pgr_curve
from .pipeline import PAIR_SOURCES
from .recipes import DEFAULT_L2, PairRouter, TrainedRouter, train_pair, unit_rows
from .store_labels import SOURCE, StoreLabel, label_pairs, split_labels

# The store's share of the pair's training weight, tried on the validation part.
STORE_SHARES = (0.0, 0.25, 0.5, 0.75, 0.9)
# Without benchmark data, the regularisation of the store-only direction is chosen instead.
STORE_ONLY_L2 = (0.1, 1.0, 10.0)
# Fewer store requests than this and the calibration table comes from the reference prompts instead.
MIN_CALIBRATION_REQUESTS = 100
DEFAULT_TASK_WEIGHT = 0.3


@dataclass(frozen=True)
class RetrainResult:
    """RetrainResult: the written model and how it compares with the live one on the test part."""

    info: artifact.RouterModelInfo
    labelled: int
    train: int
    validation: int
    test: int
    knob: str
    chosen: float
    validation_apgr: dict[float, float]
    new_apgr: float | None
    live_apgr: float | None

    def report(self, live: Path, out: Path) -> str:
        def fmt(x: float | None) -> str:
            return "undefined (no quality gap)" if x is None or np.isnan(x) else f"{x:.3f}"

        tried = ", ".join(f"{k:g}: {fmt(v)}" for k, v in self.validation_apgr.items())
        return "\n".join(
            [
                f"labelled pairs {self.labelled}: train {self.train}, validation {self.validation}, "
                f"test {self.test} (never trained on)",
                f"{self.knob}: {self.chosen:g}, chosen by validation APGR ({tried})",
                f"APGR on the {self.test} test pairs: new {fmt(self.new_apgr)}, live {fmt(self.live_apgr)} ({live})",
                f"wrote {out}: {self.info.router_id} {self.info.version}",
            ]
        )


def apgr(scores: np.ndarray, labels: Sequence[StoreLabel]) -> float | None:
    """APGR of ``scores`` on labelled pairs; None when both tiers score the same on them."""
    strong = np.array([x.premium for x in labels])
    weak = np.array([x.small for x in labels])
    if not labels or abs(strong.mean() - weak.mean()) < 1e-12:
        return None
    return pgr_curve(scores, strong, weak).apgr()


class _Embeddings:
    """Benchmark prompts through the disk cache; store prompts in memory only."""

    def __init__(self, cache: EmbeddingCache, store_prompts: Sequence[str]) -> None:
        self.cache = cache
        unique = sorted(set(store_prompts))
        vectors = cache.embedder.embed(unique) if unique else []
        self._store = {p: np.asarray(v, np.float32) for p, v in zip(unique, vectors, strict=True)}

    def embed(self, prompts: Sequence[str]) -> np.ndarray:
        others = [p for p in prompts if p not in self._store]
        cached = dict(zip(others, self.cache.embed(others, progress=False), strict=True)) if others else {}
        if not prompts:
            return np.zeros((0, self.cache.embedder.dim), np.float32)
        return np.stack([self._store[p] if p in self._store else cached[p] for p in prompts])


@dataclass
class _Trainer:
    """Trains the pair direction on data + store battles; adds the data's task prior and gate when there is data."""

    data: Sequence[ScoredPrompt]
    embeddings: _Embeddings
    l2: float
    task_weight: float

    def __post_init__(self) -> None:
        self._heads: tuple[np.ndarray, float, np.ndarray, float] | None = None
        if self.data:
            anchors = load_anchors()
            self._heads = (
                *train_task_head(self.data, self.embeddings.cache, anchors),
                *train_gate(self.data, self.embeddings.cache, anchors),
            )
        data_builder = BattleBuilder([STRONG, WEAK])
        add_scored_prompts(data_builder, self.data, PAIR_SOURCES)
        self._data_weight = float(data_builder.build().weight.sum())

    def battles(self, labels: Sequence[StoreLabel], share: float) -> Battles:
        builder = BattleBuilder([STRONG, WEAK])
        add_scored_prompts(builder, self.data, PAIR_SOURCES)
        # Each store battle's weight, so that the store carries ``share`` of the total.
        per_battle = 1.0 if not self._data_weight else share / (1.0 - share) * self._data_weight / max(len(labels), 1)
        store_prompts = [x.scored_prompt() for x in labels]
        add_scored_prompts(builder, store_prompts, {SOURCE: [(STRONG, WEAK)]}, {SOURCE: per_battle})
        return builder.build()

    @property
    def knob(self) -> tuple[str, tuple[float, ...]]:
        """What the validation part chooses, and the values tried."""
        if self.data:
            return "store share of the pair's training weight", STORE_SHARES
        return "L2 (the store alone)", STORE_ONLY_L2

    def train(self, labels: Sequence[StoreLabel], knob: float) -> TrainedRouter:
        if not self.data:
            return self._store_only(labels, l2=knob)
        battles = self.battles(labels, knob)
        pair = train_pair(battles, self.embeddings.embed(battles.prompts), STRONG, WEAK, self.l2)
        assert self._heads is not None
        return GatedRouter(pair, *self._heads, weight=self.task_weight)

    def _store_only(self, labels: Sequence[StoreLabel], l2: float) -> PairRouter:
        """P(premium strictly better) fitted on the store's labels alone (ties and small wins are 'not better').

        The pair recipe's direction needs battles won by each side; a deployment's judged traffic may
        hold none that the small tier won outright.
        """
        x = unit_rows(self.embeddings.embed([x.prompt for x in labels]))
        y = np.array([x.premium > x.small for x in labels], dtype=np.float64)
        if y.min() == y.max():
            raise ValueError("the store's labelled pairs all say the same: nothing to learn a direction from")
        u, bias = fit_logistic(x, y, l2=l2)
        return PairRouter(u=u, bias=bias, l2=l2)


def retrain_from_store(
    pairs: Sequence[StoredPair],
    data: Sequence[ScoredPrompt],
    cache: EmbeddingCache,
    out: Path,
    live_model: Path,
    version: str | None = None,
) -> RetrainResult:
    labels = label_pairs(pairs)
    split = split_labels(labels)
    if not split.train or not split.validation:
        raise ValueError(
            f"the store holds {len(labels)} labelled pairs: too few to train on and choose a weight "
            "(run `orchestrouter judge` first, or route more traffic with shadowing on)"
        )
    live = ScoringEngine(live_model)
    live_info = live.info
    if live_info.embedder_name != cache.embedder.name:
        raise ValueError(f"{live_model}: its embedder {live_info.embedder_name!r} is not {cache.embedder.name!r}")
    embeddings = _Embeddings(cache, [p.request.query for p in pairs])
    # The pair direction's L2 and the task prior's weight are the shipped model's, chosen on the benchmark
    # data's validation folds (the live model may itself be a store-only retrain with other settings).
    shipped = artifact.read_info(artifact.DEFAULT_MODEL_PATH).training_data
    trainer = _Trainer(
        data,
        embeddings,
        l2=float(shipped.get("l2", DEFAULT_L2)),
        task_weight=float(shipped.get("task_weight", DEFAULT_TASK_WEIGHT)),
    )
    validation_x = embeddings.embed([x.prompt for x in split.validation])
    knob_name, grid = trainer.knob
    validation: dict[float, float] = {}
    for value in grid:
        score = apgr(trainer.train(split.train, value).win_probability(validation_x), split.validation)
        validation[value] = float("nan") if score is None else score
    ranked = [v for v in grid if not np.isnan(validation[v])]
    # The best validation APGR; on a tie the earlier (smaller) value.
    chosen = max(ranked, key=lambda v: validation[v]) if ranked else grid[len(grid) // 2]
    router = trainer.train(split.train + split.validation, chosen)

    info = _write(router, pairs, data, embeddings, out, {knob_name: chosen}, live_info, version, len(labels))
    test_x = embeddings.embed([x.prompt for x in split.test])
    new_scores = ScoringEngine(out).run(test_x) if split.test else np.zeros(0)
    live_scores = live.run(test_x) if split.test else np.zeros(0)
    return RetrainResult(
        info=info,
        labelled=len(labels),
        train=len(split.train),
        validation=len(split.validation),
        test=len(split.test),
        knob=knob_name,
        chosen=chosen,
        validation_apgr=validation,
        new_apgr=apgr(new_scores, split.test),
        live_apgr=apgr(live_scores, split.test),
    )


def _write(
    router: TrainedRouter,
    pairs: Sequence[StoredPair],
    data: Sequence[ScoredPrompt],
    embeddings: _Embeddings,
    out: Path,
    choice: dict[str, float],
    live: artifact.RouterModelInfo,
    version: str | None,
    labelled: int,
) -> artifact.RouterModelInfo:
    # The premium-share dial means a share of *this deployment's* traffic when the store holds enough of it.
    traffic = [p.request.query for p in pairs]
    if len(traffic) >= MIN_CALIBRATION_REQUESTS:
        reference, reference_name = traffic, f"traffic store ({len(traffic)} requests)"
    else:
        reference, reference_name = reference_prompts(data) or traffic, REFERENCE_NAME if data else "traffic store"
    calibration = Calibration.from_scores(router.win_probability(embeddings.embed(reference)), reference_name)
    models = {a.tier: a.model for p in pairs[:1] for a in p.request.answers}
    info = artifact.RouterModelInfo(
        router_id=live.router_id or ROUTER_ID,
        version=version or time.strftime("store-%Y.%m.%d.%H%M%S", time.gmtime()),
        embedder_name=embeddings.cache.embedder.name,
        embedder_dim=embeddings.cache.embedder.dim,
        model_names=(STRONG, WEAK),
        strong_model=STRONG,
        weak_model=WEAK,
        calibration_reference=calibration.reference,
        calibration_quantiles=calibration.quantiles,
        training_data={
            "sets": sorted({p.source for p in data}) + [SOURCE],
            "store_labelled_pairs": labelled,
            "store_choice": choice,
            # The deployment's tiers, in the roles of the data's strong and weak models.
            "deployment_models": models,
            "output": "P(strong answer strictly better than weak)",
            **router.describe(),
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx_graphs.save(router.to_onnx(info), out)
    return artifact.read_info(out)
