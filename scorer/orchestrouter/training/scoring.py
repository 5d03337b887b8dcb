"""Scores prompts in-process: the serving engine (``ScoringEngine``) on embeddings from the embedder
the model's metadata names (WordLlama locally, or an OpenAI-compatible endpoint)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from orchestrouter.router.embedders import WORDLLAMA_NAME, Embedder, OpenAIEmbedder, WordLlamaEmbedder
from orchestrouter.scorer.artifact import RouterModelInfo
from orchestrouter.scorer.engine import ScoringEngine


def embedder_for(info: RouterModelInfo, base_url: str = "", api_key: str = "") -> Embedder:
    """The embedder an artifact expects: WordLlama in-process, anything else through ``base_url``."""
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


def score_prompts(
    prompts: Sequence[str], engine: ScoringEngine, embedder: Embedder, batch_size: int = 256
) -> np.ndarray:
    """Each prompt's win probability: embedded and scored ``batch_size`` prompts at a time."""
    out = []
    for i in range(0, len(prompts), batch_size):
        embeddings = np.ascontiguousarray(embedder.embed(list(prompts[i : i + batch_size])), dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != engine.dim:
            raise ValueError(f"embeddings must be [N, {engine.dim}], got {list(embeddings.shape)}")
        out.append(engine.run(embeddings))
    return np.concatenate(out) if out else np.zeros(0, np.float32)
