"""Weighted, L2-regularised logistic regression by Newton's method (exact, seconds on 256-d)."""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def fit_logistic(
    X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, l2: float = 1.0, max_iter: int = 50
) -> tuple[np.ndarray, float]:
    """Minimises Σ w·logloss(y, σ(Xβ + β0)) + l2/2 |β|² (intercept unpenalised); y may be soft."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    Xb = np.hstack([X, np.ones((n, 1))])
    penalty = np.full(d + 1, float(l2))
    penalty[-1] = 1e-8
    beta = np.zeros(d + 1)
    for _ in range(max_iter):
        p = sigmoid(Xb @ beta)
        grad = Xb.T @ (w * (p - y)) + penalty * beta
        hess = (Xb * (w * p * (1 - p))[:, None]).T @ Xb + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta[:-1], float(beta[-1])
