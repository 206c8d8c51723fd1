"""Teacher embeddings cached as ``.npy`` under ``$CODEQUEST_HOME/distill/cache``.

Embedding mined code with the teacher is the slowest step of distillation on a CPU (tens of
texts a second), so every matrix is keyed by the teacher identity and a hash of the texts
and written once. Rows are L2-normalised float32, exactly what the index would store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.models import codequest_home, slug


def cache_dir() -> Path:
    return codequest_home() / "distill" / "cache"


def texts_key(texts: Sequence[str], extra: str = "") -> str:
    h = hashlib.blake2b(digest_size=10)
    h.update(extra.encode())
    for text in texts:
        h.update(text.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()


def cached_embeddings(
    teacher: Any,
    identity: str,
    texts: Sequence[str],
    *,
    tag: str,
    max_seq_length: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Teacher embeddings of ``texts`` (a SentenceTransformer), computed once per key."""
    key = texts_key(texts, f"{identity}|{max_seq_length}")
    path = cache_dir() / f"{slug(identity)}-{tag}-{key}.npy"
    if path.is_file():
        return np.load(path)
    old_len = teacher.max_seq_length
    if max_seq_length is not None:
        teacher.max_seq_length = max_seq_length
    try:
        # Chunks of the length-sorted list keep batches homogeneous and allow progress reports.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), teacher.get_embedding_dimension()), np.float32)
        step = batch_size * 8
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            out[idx] = teacher.encode(
                [texts[i] for i in idx],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if progress is not None:
                progress(min(start + step, len(order)), len(order))
    finally:
        teacher.max_seq_length = old_len
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return out
