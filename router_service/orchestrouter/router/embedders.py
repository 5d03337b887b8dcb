"""Query embedders: the in-process local default (WordLlama) and OpenAI-compatible endpoints."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import openai

WORDLLAMA_NAME = "wordllama-l2-supercat-256"
WORDLLAMA_DIM = 256


class EmbedderError(RuntimeError):
    """The embedder could not produce embeddings (endpoint down, bad reply)."""


class Embedder(Protocol):
    """Embedder: texts in, float32 [N, dim] out."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def embed_async(self, texts: Sequence[str]) -> np.ndarray: ...


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
        self._model = WordLlama.load(config="l2_supercat", dim=self.dim, cache_dir=package_dir, disable_download=True)
        # The tokenizers library is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            out = self._model.embed(list(texts))
        return np.ascontiguousarray(out, dtype=np.float32)

    async def embed_async(self, texts: Sequence[str]) -> np.ndarray:
        # About 30 µs for a query: cheaper inline than any hop to a thread.
        return self.embed(texts)


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint (text-embedding-3-small: 1536-d).

    ``embed_async`` is what the router uses, so a remote call never blocks its event loop.
    """

    def __init__(
        self, base_url: str, model: str, dim: int, api_key: str = "", timeout_s: float = 10.0, max_retries: int = 1
    ) -> None:
        self.name = model
        self.dim = dim
        self._model = model
        options: dict[str, Any] = dict(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=max_retries
        )
        self._client = openai.OpenAI(**options)
        self._async_client = openai.AsyncOpenAI(**options)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        try:
            reply = self._client.embeddings.create(model=self._model, input=list(texts))
        except openai.OpenAIError as exc:
            raise EmbedderError(_describe(exc)) from exc
        return self._matrix(reply, len(texts))

    async def embed_async(self, texts: Sequence[str]) -> np.ndarray:
        try:
            reply = await self._async_client.embeddings.create(model=self._model, input=list(texts))
        except openai.OpenAIError as exc:
            raise EmbedderError(_describe(exc)) from exc
        return self._matrix(reply, len(texts))

    def _matrix(self, reply, n: int) -> np.ndarray:
        try:
            rows = sorted(reply.data, key=lambda d: d.index)
            out = np.asarray([d.embedding for d in rows], dtype=np.float32)
        except (AttributeError, TypeError, ValueError) as exc:
            raise EmbedderError("embeddings endpoint sent a malformed reply") from exc
        if out.shape != (n, self.dim):
            raise EmbedderError(f"embeddings endpoint returned shape {out.shape}, expected ({n}, {self.dim})")
        return out


def _describe(exc: Exception) -> str:
    # Never the request itself: it carries the bearer token in its headers.
    if isinstance(exc, openai.APIStatusError):
        return f"embeddings endpoint answered {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "embeddings endpoint timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "embeddings endpoint unreachable"
    return f"embeddings endpoint failed: {type(exc).__name__}"
