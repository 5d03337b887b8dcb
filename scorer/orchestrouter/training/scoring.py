"""Scores prompts in-process: an artifact run in ONNX Runtime on embeddings from the embedder its
metadata names (WordLlama locally, or an OpenAI-compatible endpoint)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from orchestrouter.scorer import artifact


class ArtifactScorer:
    """ArtifactScorer: one ONNX session and the artifact's metadata."""

    def __init__(self, path: Path = artifact.DEFAULT_MODEL_PATH) -> None:
        import onnxruntime as ort

        self.info = artifact.read_info(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.info.embedder_dim:
            raise ValueError(f"embeddings must be [N, {self.info.embedder_dim}], got {list(x.shape)}")
        return self._session.run([artifact.OUTPUT_NAME], {artifact.INPUT_NAME: x})[0]


def embedder_for(info: artifact.RouterModelInfo, base_url: str = "", api_key: str = ""):
    """The embedder an artifact expects: WordLlama in-process, anything else through ``base_url``."""
    from orchestrouter.router.embedders import WORDLLAMA_NAME, OpenAIEmbedder, WordLlamaEmbedder

    if info.embedder_name == WORDLLAMA_NAME:
        return WordLlamaEmbedder()
    if not base_url:
        raise ValueError(f"the model expects embedder {info.embedder_name!r}: give an embeddings endpoint URL")
    return OpenAIEmbedder(base_url, info.embedder_name, info.embedder_dim, api_key)


def read_prompts(path: Path) -> list[dict]:
    """JSON lines with a ``prompt`` field (other fields are kept), or plain text, one prompt a line."""
    rows = []
    with Path(path).open() as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = {"prompt": line.rstrip("\n")}
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise ValueError(f"{path}: each JSON line needs a string 'prompt'")
            rows.append(row)
    return rows


def score_prompts(prompts: Sequence[str], scorer: ArtifactScorer, embedder, batch_size: int = 256) -> np.ndarray:
    out = [scorer.score(embedder.embed(list(prompts[i : i + batch_size]))) for i in range(0, len(prompts), batch_size)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)
