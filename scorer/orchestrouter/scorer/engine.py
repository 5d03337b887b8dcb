"""The scoring engine: one router model in one ONNX Runtime session, and input validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from orchestrouter.runtime.errors import InvalidArgument, Unavailable
from orchestrouter.scorer.artifact import (
    INPUT_NAME,
    OUTPUT_NAME,
    ArtifactError,
    RouterModelInfo,
    describe,
    open_session,
)


class ModelOutputError(Unavailable):
    """ModelOutputError: the router model's output for a batch is not one probability per row in [0, 1]."""


_FEW = 16


def probability_problem(values: np.ndarray) -> str | None:
    """probability_problem: what is wrong with values as win probabilities (None when all are in [0, 1])."""
    if values.size <= _FEW:
        # A Score request is usually a row or two: Python compares a few floats in well under a
        # microsecond, where each numpy reduction costs a few. NaN fails both comparisons.
        if all(0.0 <= x <= 1.0 for x in values.ravel().tolist()):
            return None
    elif ((values >= 0) & (values <= 1)).all():
        return None
    if not np.isfinite(values).all():
        return "NaN or infinite probabilities"
    if ((values < 0) | (values > 1)).any():
        return "probabilities outside [0, 1]"
    return None


class ScoringEngine:
    """ScoringEngine: runs a router model on float32 [N, D] embeddings."""

    def __init__(self, model_path: str | Path, expected_embedder: str | None = None) -> None:
        options = ort.SessionOptions()
        # Each run is a few matrix products: one thread per run and no spinning keeps the
        # scorer from taking cores that the router and the embedder need.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = open_session(model_path, options)
        self.info: RouterModelInfo = describe(self._session, model_path)
        if expected_embedder is not None and expected_embedder != self.info.embedder_name:
            raise ArtifactError(
                f"router model {self.info.router_id} expects embedder {self.info.embedder_name!r} "
                f"({self.info.embedder_dim}-d), but this deployment embeds with {expected_embedder!r}"
            )
        self._warm()

    @property
    def dim(self) -> int:
        return self.info.embedder_dim

    def _warm(self) -> None:
        """Runs the model once per batch size on zeros and on random rows, checking what it gives."""
        rng = np.random.default_rng(0)
        for rows in (1, 8, 64):
            for matrix in (np.zeros((rows, self.dim), np.float32), rng.standard_normal((rows, self.dim), np.float32)):
                try:
                    problem = probability_problem(self.run(matrix))
                except ModelOutputError as exc:
                    raise ArtifactError(f"router model {self.info.router_id}: {exc}") from None
                if problem:
                    raise ArtifactError(f"router model {self.info.router_id} gives {problem} at warm-up")

    def run(self, embeddings: np.ndarray) -> np.ndarray:
        """The win probability of each row: float32 [N] for N rows.

        Raises ModelOutputError when the output is not one value per row (an [N, 2] output would hand
        each request other rows' scores). Values are checked per request by the caller.
        """
        (out,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: embeddings})
        rows = embeddings.shape[0]
        if out.shape not in ((rows,), (rows, 1)):
            raise ModelOutputError(
                f"output of shape {list(out.shape)} for {rows} rows; it must give one probability per row ([N])"
            )
        return out.reshape(-1)


def parse_batch(data: bytes, rows: int, dim: int, expected_dim: int, max_rows: int) -> np.ndarray:
    """Checks a packed batch and returns it as a float32 [rows, dim] array (no copy)."""
    _check_shape(rows, dim, expected_dim, max_rows)
    expected_bytes = rows * dim * 4
    if len(data) != expected_bytes:
        raise InvalidArgument(
            f"embeddings.data has {len(data)} bytes, but rows={rows} x dim={dim} float32 needs {expected_bytes}"
        )
    matrix = np.frombuffer(data, dtype="<f4").reshape(rows, dim)
    _check_finite(matrix)
    return matrix


def check_embeddings(matrix: np.ndarray, expected_dim: int, max_rows: int) -> None:
    """Checks a float32 [rows, dim] matrix as parse_batch checks a packed one (for a scorer in the caller's process)."""
    if matrix.ndim != 2:
        raise InvalidArgument(f"embeddings of shape {list(matrix.shape)}: rows x dim expected")
    _check_shape(matrix.shape[0], matrix.shape[1], expected_dim, max_rows)
    _check_finite(matrix)


def _check_shape(rows: int, dim: int, expected_dim: int, max_rows: int) -> None:
    if rows == 0:
        raise InvalidArgument("empty batch: embeddings.rows is 0")
    if rows > max_rows:
        raise InvalidArgument(f"batch of {rows} rows is over the limit of {max_rows}")
    if dim != expected_dim:
        raise InvalidArgument(f"embedding dimension {dim} does not match the router model's {expected_dim}")


def _check_finite(matrix: np.ndarray) -> None:
    if not np.isfinite(matrix).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise InvalidArgument(f"embeddings contain NaN or infinite values (first in row {bad})")
