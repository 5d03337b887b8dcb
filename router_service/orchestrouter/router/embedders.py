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
        model = WordLlama.load(config="l2_supercat", dim=self.dim, cache_dir=package_dir, disable_download=True)
        self._tokenizer = model.tokenizer
        self._table: np.ndarray = model.embedding  # float32 [vocab, dim], C-contiguous
        # The tokenizers library is not safe to call from several threads at once.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """WordLlama's embedding (the mean of the texts' token vectors), computed as its embed() does,
        to the bit, without its per-call padding, masks and [texts, tokens, dim] intermediate.

        One ``encode`` per text rather than ``encode_batch``, which hands even a single text to the
        tokenizer's thread pool; a text without tokens embeds as zeros, as in WordLlama.
        """
        out = np.zeros((len(texts), self.dim), np.float32)
        with self._lock:
            encodings = [self._tokenizer.encode(text, add_special_tokens=False) for text in texts]
        for row, encoding in zip(out, encodings, strict=True):
            ids = encoding.ids
            if ids:
                # mode="clip" clamps ids past the table, as WordLlama's np.clip does.
                np.add.reduce(self._table.take(ids, axis=0, mode="clip"), axis=0, out=row)
                row /= np.float32(len(ids))
        return out

    async def embed_async(self, texts: Sequence[str]) -> np.ndarray:
        # 10-60 µs for a query (hot or after the loop idled): cheaper inline than any hop to a thread.
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
