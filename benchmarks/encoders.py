"""Encoders for the benchmarks: the product's loaders plus a per-text embedding cache.

A real model on a CPU embeds tens of chunks a second, so quality runs keep every
document embedding they compute: :class:`CachingDocumentEncoder` stores vectors under
``$CODEQUEST_HOME/bench-cache/doc-embeddings/<model identity>-<precision>/``, keyed by the
sha256 of each text. Any corpus (CoSQA, a subset of it, the stdlib-bench chunks) reuses
what was embedded before, and indexing still runs the current engine code end to end.
The indexing-throughput benchmark never uses this cache.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import bench_cache, save_npy_atomic
from codequest.config import Config
from codequest.encoders import (
    DocumentEncoder,
    HashingEncoder,
    QueryEncoder,
    load_document_encoder,
    load_query_encoder,
)
from codequest.encoders.models import slug

BM25 = "bm25"


def precision(encoder: object) -> str:
    if isinstance(encoder, HashingEncoder):
        return "exact"
    if isinstance(encoder, MixedDocumentEncoder):
        return encoder.precision
    if hasattr(encoder, "precision") and hasattr(encoder, "max_seq_length"):  # ONNX export
        return f"onnx-{encoder.precision}"
    device = str(getattr(encoder, "device", "cpu"))
    if device == "cuda":
        return "fp16"
    return "bf16" if getattr(encoder, "bf16", False) else "fp32"


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachingDocumentEncoder:
    """A document encoder that remembers every vector it computed, on disk."""

    def __init__(self, inner: DocumentEncoder, folder: Path | None = None) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.dim = inner.dim
        self.device = inner.device
        self.precision = precision(inner)
        self.folder = folder or (
            bench_cache() / "doc-embeddings" / f"{slug(self.identity)}-{self.precision}"
        )
        self._lock = threading.Lock()
        self._vectors: dict[bytes, np.ndarray] = {}
        self._dirty = False
        self.hits = 0
        self.misses = 0
        self._load()

    def _load(self) -> None:
        keys_path, vecs_path = self.folder / "keys.npy", self.folder / "vectors.npy"
        if not (keys_path.is_file() and vecs_path.is_file()):
            return
        try:
            keys = np.load(keys_path)
            vecs = np.load(vecs_path)
        except (OSError, ValueError):
            return  # a damaged cache is recomputed, never trusted
        if keys.dtype.kind == "S":  # an older layout; bytes(k) would drop trailing NULs
            keys = keys.view(np.uint8).reshape(len(keys), -1)
        if (
            len(keys) != len(vecs)
            or keys.ndim != 2
            or keys.shape[1] != 32
            or vecs.ndim != 2
            or vecs.shape[1] != self.dim
        ):
            return
        self._vectors = {k.tobytes(): v for k, v in zip(keys, vecs, strict=True)}

    def save(self) -> None:
        with self._lock:
            if not self._dirty or not self._vectors:
                return
            keys = np.frombuffer(b"".join(self._vectors), dtype=np.uint8).reshape(-1, 32)
            vecs = np.stack(list(self._vectors.values())).astype(np.float32)
            save_npy_atomic(self.folder / "vectors.npy", vecs)
            save_npy_atomic(self.folder / "keys.npy", keys)
            self._dirty = False

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        keys = [_text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            # Unique texts only, in batches, so progress can be shown for long corpora.
            todo: dict[bytes, str] = {}
            for i in missing:
                todo.setdefault(keys[i], texts[i])
            items = list(todo.items())
            last_save = time.monotonic()
            for start in range(0, len(items), 256):
                part = items[start : start + 256]
                vecs = self.inner.encode_documents([t for _, t in part])
                with self._lock:
                    for (key, _), vec in zip(part, vecs, strict=True):
                        self._vectors[key] = np.asarray(vec, dtype=np.float32)
                    self._dirty = True
                if on_batch is not None:
                    on_batch(len(part))
                if time.monotonic() - last_save > 60:  # an interrupted run keeps its work
                    self.save()
                    last_save = time.monotonic()
            self.save()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)


DOCUMENT_PATHS = ("torch", "onnx", "mixed")


def document_encoder(model: str, *, device: str = "auto", path: str = "torch") -> DocumentEncoder:
    """The teacher as the indexer runs it: ``torch`` (bulk indexing), ``onnx`` (its export
    under ONNX Runtime, what the language server embeds edits with), or ``mixed`` (each
    text by one or the other, chosen by its hash: a store that bulk runs and edits filled)."""
    config = Config(model=model, device=device)
    if path == "torch" or model == "hashing":
        return load_document_encoder(config)
    from codequest.encoders import load_resident_document_encoder, prepare_document_export

    prepare_document_export(config)
    onnx = load_resident_document_encoder(config)
    assert onnx is not None
    if path == "onnx":
        return onnx
    return MixedDocumentEncoder(
        CachingDocumentEncoder(load_document_encoder(config)), CachingDocumentEncoder(onnx)
    )


class MixedDocumentEncoder:
    """Each text embedded by one of two encoders of the same teacher, by its hash's parity."""

    def __init__(self, first: CachingDocumentEncoder, second: CachingDocumentEncoder) -> None:
        self.parts = (first, second)
        self.identity = first.identity
        self.dim = first.dim
        self.device = first.device
        self.precision = f"mixed-{first.precision}-{second.precision}"

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for parity, encoder in enumerate(self.parts):
            rows = [i for i, t in enumerate(texts) if _text_key(t)[0] % 2 == parity]
            if rows:
                out[rows] = encoder.encode_documents([texts[i] for i in rows])
        if on_batch is not None:
            on_batch(len(texts))
        return out


def query_encoder(model: str, choice: str, teacher_identity: str) -> QueryEncoder:
    """The product's query encoder for ``choice`` (teacher-onnx, teacher, a folder, ...)."""
    if choice == "hashing" or model == "hashing":
        return HashingEncoder()
    config = replace(Config(model=model), query_encoder=choice)
    return load_query_encoder(config, teacher_identity)


def encoder_label(choice: str) -> str:
    """A short name for a query-encoder choice; folders become ``student:<name>``."""
    if choice in (BM25, "hashing", "teacher", "teacher-onnx", "teacher-int8", "auto"):
        return choice
    return f"student:{Path(choice).name}"
