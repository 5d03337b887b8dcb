"""Embeds prompts once per embedder and keeps the vectors on disk (outside the repository).

Training and evaluation embed the same ~34,000 prompts many times; the cache makes every run
after the first read them back in a second. Entries are keyed by a hash of the prompt text, one
file per embedder name, under ``$ORCHESTROUTER_CACHE_DIR`` (default ``~/.cache/orchestrouter``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

CACHE_ENV = "ORCHESTROUTER_CACHE_DIR"


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "orchestrouter")


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """EmbeddingCache: ``embed(texts)`` through an embedder, reusing vectors seen before."""

    def __init__(self, embedder, cache_dir: Path | None = None, batch_size: int = 512) -> None:
        self.embedder = embedder
        self.batch_size = batch_size
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder.name)
        self.path = (cache_dir or default_cache_dir()) / f"embeddings-{safe}-{embedder.dim}.npz"
        self._rows: dict[bytes, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as data:
                for k, v in zip(data["keys"], data["vectors"], strict=True):
                    self._rows[k.tobytes()] = v

    def missing(self, texts: Sequence[str]) -> int:
        """How many distinct texts are not in the cache yet (what embed() would have to compute)."""
        return len({k for k in map(_key, texts) if k not in self._rows})

    def embed(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        keys = [_key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}.items())
        if todo:
            steps = range(0, len(todo), self.batch_size)
            for start in tqdm(steps, desc=f"embedding ({self.embedder.name})", disable=not progress):
                chunk = todo[start : start + self.batch_size]
                vectors = self.embedder.embed([t for _, t in chunk])
                for (k, _), v in zip(chunk, vectors, strict=True):
                    self._rows[k] = np.asarray(v, dtype=np.float32)
            self._save()
        if not keys:
            return np.zeros((0, self.embedder.dim), np.float32)
        return np.stack([self._rows[k] for k in keys]).astype(np.float32)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array([np.frombuffer(k, dtype="V16")[0] for k in self._rows])
        vectors = np.stack(list(self._rows.values()))
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        tmp.replace(self.path)
