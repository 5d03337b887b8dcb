"""The Matrix-Factorization router, trained with Adam in numpy.

Score of model m on a prompt embedding e (RouteLLM's form, plus a per-model bias):

    s(m, e) = c · (P[m]/|P[m]| ⊙ W x) + b[m],   x = e/|e| if ``normalize_input`` else e

and for a battle between models a and b, with d = s(a) - s(b) and a tie width θ_g > 0 per tie
group (data set), an ordered logit over three outcomes:

    P(a strictly better) = σ(d - θ_g),  P(b strictly better) = σ(-d - θ_g),  P(tie) = the rest.

So σ(s(strong) - s(weak) - θ) is a real probability that the strong answer is strictly better.
``MFConfig.routellm()`` is RouteLLM's recipe: raw embeddings, ties dropped, no biases, θ = 0
(plain logistic loss), k = 128, Gaussian noise on the embeddings; trained for 400 Adam steps of
8,192 battles so that the baseline fits in a minute on two cores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from tqdm import tqdm

from .battles import A_WINS, B_WINS, TIE, Battles


@dataclass(frozen=True)
class MFConfig:
    """MFConfig: every training setting, recorded in the artifact's metadata."""

    dim: int = 16
    keep_ties: bool = True
    model_bias: bool = True
    normalize_input: bool = True
    weight_decay: float = 1e-2
    noise_std: float = 0.0
    lr: float = 3e-3
    steps: int = 600
    batch_size: int = 8192
    seed: int = 0

    @classmethod
    def routellm(cls, **overrides) -> MFConfig:
        base = cls(
            dim=128,
            keep_ties=False,
            model_bias=False,
            normalize_input=False,
            weight_decay=0.0,
            noise_std=0.01,
            lr=3e-3,
            steps=400,
            batch_size=8192,
        )
        return replace(base, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class MFModel:
    """MFModel: trained parameters; ``theta`` maps tie group -> tie width."""

    P: np.ndarray
    W: np.ndarray
    c: np.ndarray
    bias: np.ndarray
    theta: dict[str, float]
    models: list[str]
    normalize_input: bool

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        x = np.asarray(embeddings, dtype=np.float64)
        if self.normalize_input:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x

    def model_scores(self, embeddings: np.ndarray) -> np.ndarray:
        p_hat = self.P / np.linalg.norm(self.P, axis=1, keepdims=True)
        return (self.features(embeddings) @ self.W.T) @ (self.c[:, None] * p_hat.T) + self.bias

    def win_probability(self, embeddings: np.ndarray, strong: str, weak: str, tie_group: str | None) -> np.ndarray:
        """P(strong strictly better than weak); θ of ``tie_group`` (0 if None or unknown)."""
        s = self.model_scores(embeddings)
        d = s[:, self.models.index(strong)] - s[:, self.models.index(weak)]
        return 1.0 / (1.0 + np.exp(-(d - self.theta.get(tie_group, 0.0) if tie_group else d)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class _Adam:
    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-8)


def _outcome_grads(d: np.ndarray, theta: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-battle negative log-likelihood and its derivatives in d and θ."""
    pa, pb = _sigmoid(d - theta), _sigmoid(-d - theta)
    pt = np.maximum(1.0 - pa - pb, 1e-12)
    ga = np.where(outcome == A_WINS, -(1 - pa), np.where(outcome == TIE, pa * (1 - pa) / pt, 0.0))
    gb = np.where(outcome == B_WINS, -(1 - pb), np.where(outcome == TIE, pb * (1 - pb) / pt, 0.0))
    nll = -np.log(np.where(outcome == A_WINS, pa, np.where(outcome == B_WINS, pb, pt)) + 1e-12)
    return nll, ga - gb, -(ga + gb)


def train_mf(battles: Battles, embeddings: np.ndarray, config: MFConfig = MFConfig(), progress: bool = True) -> MFModel:
    """Fits the MF router on ``battles``; ``embeddings[i]`` embeds ``battles.prompts[i]``."""
    rng = np.random.default_rng(config.seed)
    keep = np.ones(len(battles), bool) if config.keep_ties else battles.outcome != TIE
    prompt, a, b = battles.prompt[keep], battles.model_a[keep], battles.model_b[keep]
    outcome, group, weight = battles.outcome[keep], battles.tie_group[keep], battles.weight[keep]
    if prompt.size == 0:
        raise ValueError("no battles to train on")
    x_all = MFModel(np.ones((1, 1)), np.ones((1, 1)), np.ones(1), np.zeros(1), {}, [], config.normalize_input).features(
        embeddings
    )
    n_models, k, dim = len(battles.models), config.dim, x_all.shape[1]
    P = rng.normal(0.0, 1.0, (n_models, k))
    W = rng.normal(0.0, 1.0 / np.sqrt(dim), (k, dim))
    c = rng.normal(0.0, 1.0 / np.sqrt(k), k)
    bias = np.zeros(n_models)
    # θ = softplus(φ); start near the observed tie share's width so early steps are sane.
    phi = np.full(len(battles.tie_groups), 0.5 if config.keep_ties else -30.0)
    params = [P, W, c, bias, phi]
    adam = _Adam(params, config.lr)
    total_w = weight.sum()
    steps = tqdm(range(config.steps), desc="training MF router", disable=not progress)
    for _ in steps:
        batch = (
            rng.choice(prompt.size, size=min(config.batch_size, prompt.size), replace=False)
            if config.batch_size < prompt.size
            else np.arange(prompt.size)
        )
        scale = prompt.size / (batch.size * total_w)
        x = x_all[prompt[batch]]
        if config.noise_std:
            x = x + rng.normal(0.0, config.noise_std, x.shape)
        norms = np.linalg.norm(P, axis=1, keepdims=True)
        p_hat = P / norms
        h = x @ W.T
        diff = p_hat[a[batch]] - p_hat[b[batch]]
        d = np.einsum("bk,bk->b", h * c, diff)
        if config.model_bias:
            d = d + bias[a[batch]] - bias[b[batch]]
        theta = np.logaddexp(0.0, phi) if config.keep_ties else np.zeros_like(phi)
        nll, g_d, g_theta = _outcome_grads(d, theta[group[batch]], outcome[batch])
        wb = weight[batch] * scale
        g_d, g_theta = g_d * wb, g_theta * wb
        g_c = np.einsum("b,bk->k", g_d, h * diff)
        g_h = g_d[:, None] * c * diff
        g_W = g_h.T @ x + config.weight_decay * W
        g_phat = np.zeros_like(P)
        np.add.at(g_phat, a[batch], g_d[:, None] * h * c)
        np.add.at(g_phat, b[batch], -g_d[:, None] * h * c)
        g_P = (g_phat - p_hat * (p_hat * g_phat).sum(1, keepdims=True)) / norms
        g_bias = np.zeros(n_models)
        if config.model_bias:
            np.add.at(g_bias, a[batch], g_d)
            np.add.at(g_bias, b[batch], -g_d)
        g_phi = np.zeros_like(phi)
        if config.keep_ties:
            np.add.at(g_phi, group[batch], g_theta * _sigmoid(phi[group[batch]]))
        adam.step([g_P, g_W, g_c + config.weight_decay * c, g_bias, g_phi])
        if progress:
            steps.set_postfix(loss=f"{float((nll * wb).sum()):.4f}", refresh=False)
    theta = np.logaddexp(0.0, phi) if config.keep_ties else np.zeros_like(phi)
    return MFModel(
        P=P,
        W=W,
        c=c,
        bias=bias,
        theta=dict(zip(battles.tie_groups, map(float, theta), strict=True)),
        models=list(battles.models),
        normalize_input=config.normalize_input,
    )
