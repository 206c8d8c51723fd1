"""Encoder protocols: the teacher embeds documents, a query encoder embeds queries.

Both produce L2-normalised float32 vectors in the teacher's space, so cosine similarity
is a dot product. Tests use :class:`~codequest.encoders.hashing.HashingEncoder`, which
satisfies both protocols without any model weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from codequest.types import Chunk


@runtime_checkable
class DocumentEncoder(Protocol):
    identity: str  # stored in the index; a different identity forces a rebuild
    dim: int
    device: str

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed texts; returns float32 ``(len(texts), dim)``, rows L2-normalised."""
        ...


@runtime_checkable
class QueryEncoder(Protocol):
    @property
    def teacher_identity(self) -> str:
        """The document encoder whose space this lands in."""
        ...

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query; returns float32 ``(dim,)``, L2-normalised."""
        ...


class EncoderError(RuntimeError):
    """An encoder could not be loaded or does not match the index."""


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def document_text(chunk: Chunk) -> str:
    """The text the teacher embeds for a chunk.

    Methods get their class name in front, because a method body alone rarely says which
    object it belongs to; everything else is embedded as written.
    """
    if chunk.kind == "method" and "." in chunk.symbol:
        owner = chunk.symbol.rsplit(".", 1)[0]
        return f"{owner}\n{chunk.text}"
    return chunk.text
