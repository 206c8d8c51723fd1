"""The vector index: usearch's HNSW graph, its settings and its precision.

Why each setting has its value, with the measurements behind it, is in
``docs/measurements.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

# HNSW graph settings.
CONNECTIVITY = 16
EXPANSION_ADD = 128
# Search breadth (ef); usearch searches with max(ef, count). Searches ask for
# codequest.search.DENSE_CANDIDATES neighbours. Larger graphs need more breadth for the
# same recall, so past LARGE_INDEX vectors the larger breadth is used.
EXPANSION_SEARCH = 64
EXPANSION_SEARCH_LARGE = 200
LARGE_INDEX = 250_000
# Below this many vectors a brute-force scan is both exact and fast.
EXACT_SEARCH_LIMIT = 20_000
# usearch < 2.26 (pinned: 2.26 crashes next to onnxruntime) never reclaims the tombstones
# remove() leaves in its key table. After about as many removals as the index's capacity,
# remove() stops finding live keys (they linger as ghosts), then spins forever (upstream
# issues #753 and #769). Saving and loading does not reset that; building a fresh index
# from the live vectors does, so the store does it after REBUILD_AFTER x capacity removals.
REBUILD_AFTER = 0.5
REBUILD_MIN = 32

# usearch kernels (SimSIMD capability names) that compute bf16 dot products natively.
_NATIVE_BF16_KERNELS = frozenset(
    {"genoa", "sapphire", "sapphire_amx", "turin", "granite_amx", "neon_bf16", "sve_bf16"}
)


def expansion_for(size: int) -> int:
    """The HNSW search breadth (ef) used for an index of ``size`` vectors."""
    return EXPANSION_SEARCH if size <= LARGE_INDEX else EXPANSION_SEARCH_LARGE


@functools.lru_cache(maxsize=1)
def preferred_vector_dtype() -> str:
    """How a new index stores its vectors: "bf16" where the CPU has bf16 dot products, else
    "f16". Both take two bytes a dimension. With native bf16 kernels the search is faster at
    the same recall; elsewhere usearch would convert bf16 in software, and f16 keeps three
    more bits of mantissa, so f16 stays.
    """
    try:
        from usearch.index import Index

        kernel = str(Index(ndim=8, metric="cos", dtype="bf16").hardware_acceleration)
    except Exception:  # noqa: BLE001 - an old usearch without bf16, or no such kernel
        return "f16"
    return "bf16" if kernel in _NATIVE_BF16_KERNELS else "f16"


def numpy_dtype(kind: Any) -> Any:
    """The numpy dtype that holds usearch's ``kind`` as stored; float32 for bf16 and others
    numpy has no type for (usearch converts those)."""
    from usearch.index import ScalarKind

    return {ScalarKind.F16: np.float16, ScalarKind.F32: np.float32}.get(kind, np.float32)


def new_index(dim: int, dtype: Any = None) -> Any:
    """An empty cosine HNSW index (``dtype``: the precision, default the preferred one)."""
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype=dtype if dtype is not None else preferred_vector_dtype(),
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )
