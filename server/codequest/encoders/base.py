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


class BasicQueryEncoder(Protocol):
    """What every query encoder provides: a name, a shape, and one query at a time."""

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


class QueryEncoder(BasicQueryEncoder, Protocol):
    """A query encoder that declares its capabilities (every encoder in this package)."""

    @property
    def releases_gil(self) -> bool:
        """Whether :meth:`encode_query` runs without the GIL, so a search can do its lexical
        side on another thread meanwhile (ONNX Runtime does; Python and torch do not)."""
        ...

    @property
    def loaded(self) -> bool:
        """Whether :meth:`encode_query` answers without waiting for a model to load."""
        ...

    @property
    def note(self) -> str:
        """Why this encoder answers instead of the one configured; empty when it is that one."""
        ...


# What an encoder written against BasicQueryEncoder alone is taken to declare.
_CAPABILITY_DEFAULTS = {"releases_gil": False, "loaded": True, "note": ""}


class _WithDefaults:
    """A BasicQueryEncoder that declares the default capabilities."""

    releases_gil = False
    loaded = True
    note = ""

    def __init__(self, inner: BasicQueryEncoder) -> None:
        self.inner = inner

    @property
    def teacher_identity(self) -> str:
        return self.inner.teacher_identity

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


def declared(encoder: BasicQueryEncoder | QueryEncoder) -> QueryEncoder:
    """``encoder`` itself when it declares the capabilities; else a wrapper that declares
    the defaults (holds the GIL, loaded, no note): encoders from outside this package, such
    as the benchmarks' precomputed vectors, may implement :class:`BasicQueryEncoder` only.
    Called once, where an encoder enters a Searcher or a Workspace."""
    if all(hasattr(encoder, name) for name in _CAPABILITY_DEFAULTS):
        return encoder  # type: ignore[return-value]
    return _WithDefaults(encoder)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


# The recipe below, as a number. Vectors made from different texts are not comparable, so a
# store records the recipe it was embedded with, and one with another recipe is rebuilt
# rather than mixed (``codequest.store``). Bump it whenever document_text changes.
# 1: the code, methods prefixed with their class name. 2: a context line (path, name).
# 3: the same text over sized chunks (chunking.sized), whose boundaries differ from 2's.
DOCUMENT_RECIPE = 3


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
