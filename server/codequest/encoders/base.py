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


# The recipe below, as a number. Vectors made from different texts are not comparable, so a
# store records the recipe it was embedded with, and one with another recipe is rebuilt
# rather than mixed (``codequest.store``). Bump it whenever document_text changes.
# 1: the code, methods prefixed with their class name. 2: a context line (path, name).
DOCUMENT_RECIPE = 2


def document_text(chunk: Chunk) -> str:
    """The text the teacher embeds for a chunk: a context line, then the code as written.

    The context line is the file path and the chunk's qualified name (``tarfile.py
    TarFile.extractall``; line windows have no name), because a body alone rarely says
    which module or class it belongs to. Only the vector sees it: results, previews and
    lexical terms are unchanged. Documents without a path (benchmark sets) get the name.
    Vectors are reused by content hash, which leaves the path out, so a renamed file keeps
    vectors whose context line names the old path until its code changes.
    """
    head = " ".join(part for part in (chunk.path, chunk.symbol) if part)
    return f"{head}\n{chunk.text}" if head else chunk.text
