"""A tiny deterministic encoder: signed feature hashing of identifier-split tokens.

It needs no weights and loads instantly, so tests and the LSP end-to-end suite can run the
whole pipeline (index, store, search) for real. It is lexical, not semantic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from codequest.encoders.base import normalize_rows
from codequest.tokens import tokenize


def _bucket(token: str, dim: int, seed: int) -> tuple[int, float]:
    digest = hashlib.blake2b(f"{seed}:{token}".encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


class HashingEncoder:
    """Both a document and a query encoder; identity ``hashing-<dim>-<seed>``."""

    # QueryEncoder capabilities: pure Python, so it holds the GIL.
    releases_gil = False
    loaded = True
    note = ""

    def __init__(self, dim: int = 256, seed: int = 0) -> None:
        self.dim = dim
        self.seed = seed
        self.identity = f"hashing-{dim}-{seed}"
        self.teacher_identity = self.identity
        self.name = self.identity
        self.device = "cpu"

    def _embed(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in tokenize(text):
            index, sign = _bucket(token, self.dim, self.seed)
            vec[index] += sign
        if not vec.any():
            # Keep every vector unit-length so cosine is defined.
            vec[_bucket("<empty>", self.dim, self.seed)[0]] = 1.0
        return vec

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.stack([self._embed(t) for t in texts]) if texts else np.zeros((0, self.dim))
        if on_batch is not None:
            on_batch(len(texts))
        return normalize_rows(out)

    def encode_query(self, text: str) -> np.ndarray:
        return normalize_rows(self._embed(text)[None, :])[0]
