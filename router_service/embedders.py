"""Query embedders: the in-process local default (WordLlama) and OpenAI-compatible endpoints."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, Sequence

import httpx
import numpy as np

WORDLLAMA_NAME = "wordllama-l2-supercat-256"
WORDLLAMA_DIM = 256


class EmbedderError(RuntimeError):
    """The embedder could not produce embeddings (endpoint down, bad reply)."""


class Embedder(Protocol):
    """Embedder: texts in, float32 [N, dim] out."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class WordLlamaEmbedder:
    """WordLlama built only from the files inside its wheel.

    ``WordLlama.load()`` looks for its tokenizer in a cache directory and downloads it when
    missing; pointing the cache at the package folder (where the wheel ships both the weights
    and the tokenizer config) with downloads disabled keeps it off the network.
    """

    name = WORDLLAMA_NAME
    dim = WORDLLAMA_DIM

    def __init__(self) -> None:
        import wordllama
        from wordllama import WordLlama

        package_dir = Path(wordllama.__file__).parent
        self._model = WordLlama.load(config="l2_supercat", dim=self.dim, cache_dir=package_dir,
                                     disable_download=True)
        # The tokenizers library is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            out = self._model.embed(list(texts))
        return np.ascontiguousarray(out, dtype=np.float32)


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint (text-embedding-3-small: 1536-d)."""

    def __init__(self, base_url: str, model: str, dim: int, api_key: str = "",
                 timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.name = model
        self.dim = dim
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._client = client or httpx.Client(timeout=timeout_s, headers=headers)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        try:
            reply = self._client.post(self._url, json={"model": self._model, "input": list(texts)})
            reply.raise_for_status()
            data = sorted(reply.json()["data"], key=lambda d: d["index"])
            out = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except httpx.HTTPStatusError as exc:
            raise EmbedderError(f"embeddings endpoint answered {exc.response.status_code}") from exc
        except httpx.HTTPError as exc:
            raise EmbedderError(f"embeddings endpoint unreachable: {type(exc).__name__}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError("embeddings endpoint sent a malformed reply") from exc
        if out.shape != (len(texts), self.dim):
            raise EmbedderError(f"embeddings endpoint returned shape {out.shape}, expected ({len(texts)}, {self.dim})")
        return out
