"""Small router models built in tests, so tests control the win probability."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orchestrouter.router.embedders import WORDLLAMA_DIM, WORDLLAMA_NAME
from orchestrouter.scorer.artifact import RouterModelInfo
from orchestrouter.training.onnx_graphs import build_linear_router, save


def linear_model(
    path: Path,
    u: np.ndarray | None = None,
    bias: float = 0.0,
    dim: int = WORDLLAMA_DIM,
    embedder: str = WORDLLAMA_NAME,
    version: str = "test-1",
    calibration: tuple[float, ...] | None = None,
) -> Path:
    """A linear router P = sigmoid(e·u + bias); u = 0 gives every query sigmoid(bias)."""
    u = np.zeros(dim, np.float32) if u is None else u
    return save(build_linear_router(u, bias, model_info("test-linear", version, dim, embedder, calibration)), path)


def model_info(
    router_id: str,
    version: str,
    dim: int = WORDLLAMA_DIM,
    embedder: str = WORDLLAMA_NAME,
    calibration: tuple[float, ...] | None = None,
) -> RouterModelInfo:
    """The metadata of a test router model: the premium/small pair and a calibration table (default uniform)."""
    return RouterModelInfo(
        router_id=router_id,
        version=version,
        embedder_name=embedder,
        embedder_dim=dim,
        model_names=("premium", "small"),
        strong_model="premium",
        weak_model="small",
        training_data={"source": "tests"},
        calibration_reference="uniform",
        calibration_quantiles=calibration or tuple(float(x) for x in np.linspace(0.0, 1.0, 101)),
    )


class ConstantEmbedder:
    """ConstantEmbedder: stands in for WordLlama where the text does not matter."""

    name = WORDLLAMA_NAME
    dim = WORDLLAMA_DIM

    def embed(self, texts):
        return np.full((len(texts), self.dim), 0.01, np.float32)

    async def embed_async(self, texts):
        return self.embed(texts)
