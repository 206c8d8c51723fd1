"""Large synthetic stores (10k to 1M chunks) with the real Store and usearch settings.

How they are made (the JSON results repeat this):

* **Texts and records.** Chunk ``i`` is a copy of a real function from a base corpus
  (CoSQA's 6,267 Python functions), chosen with a seeded RNG; 20 chunks make one file
  ``pkgNNNN/modNNNNNN.py``. Records, lexical terms (``chunk_terms``) and content hashes
  are what the indexer would store for that text.
* **Vectors.** ``normalize(e + sigma * g / sqrt(dim))``: ``e`` is the real document
  embedding of the base function, ``g`` standard Gaussian noise, sigma 0.75 (cosine about
  0.8 to the source). So the index holds about 160 perturbed copies of each real embedding
  at 1M, clustered like real code embeddings rather than uniformly random.
* **Files.** For the sizes a language server must load, the files are written to disk and
  their size, mtime and hash recorded, so the server's startup index pass finds nothing to
  do and serves the prebuilt store.

Stores are cached under ``$CODEQUEST_HOME/bench-cache/synthetic/`` keyed by everything
that shapes them (size, model identity, seed, sigma, base corpus and vectors, usearch
version and settings, store format).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import SEED, Progress, bench_cache, sha256_texts
from benchmarks.memstore import FileMeta, Item, build_store
from codequest.encoders import DOCUMENT_RECIPE
from codequest.index import persist
from codequest.index import vectors as hnsw
from codequest.index.lexical import chunk_terms, path_terms
from codequest.index.store import Store
from codequest.text import file_hash

SIGMA = 0.75
CHUNKS_PER_FILE = 20
GENERATOR_VERSION = 1

DESCRIPTION = (
    "synthetic: chunk i copies a real CoSQA function (seeded choice), 20 chunks per file; "
    f"vector = normalize(real embedding + {SIGMA} * N(0, I) / sqrt(dim)) (cosine ~0.8 to its "
    "source), so neighbourhoods look like real code embeddings; real Store/usearch settings"
)


@dataclass(frozen=True)
class BaseCorpus:
    """The real functions synthetic chunks are copied from."""

    texts: tuple[str, ...]
    titles: tuple[str, ...]

    @property
    def digest(self) -> str:
        return sha256_texts(self.texts)[:16]


@dataclass(frozen=True)
class SyntheticCorpus:
    size: int
    base: tuple[int, ...]  # chunk -> base function
    items: tuple[Item, ...]
    file_texts: dict[str, str]


def make_corpus(base: BaseCorpus, size: int, *, seed: int = SEED) -> SyntheticCorpus:
    rng = np.random.default_rng(seed)
    choice = rng.integers(0, len(base.texts), size=size)
    items: list[Item] = []
    file_texts: dict[str, str] = {}
    for f_start in range(0, size, CHUNKS_PER_FILE):
        f = f_start // CHUNKS_PER_FILE
        path = f"pkg{f // 100:04d}/mod{f:06d}.py"
        parts: list[str] = []
        line = 1
        for i in range(f_start, min(size, f_start + CHUNKS_PER_FILE)):
            b = int(choice[i])
            text = base.texts[b].rstrip("\n")
            n_lines = text.count("\n") + 1
            items.append(
                Item(path, "python", "function", base.titles[b], line, line + n_lines - 1, text)
            )
            parts.append(text)
            line += n_lines + 1  # a blank line between functions
        file_texts[path] = "\n\n".join(parts) + "\n"
    return SyntheticCorpus(size, tuple(int(c) for c in choice), tuple(items), file_texts)


def perturbed_vectors(
    base_vectors: np.ndarray, choice: Sequence[int], *, sigma: float = SIGMA, seed: int = SEED
) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    dim = base_vectors.shape[1]
    idx = np.asarray(choice, dtype=np.int64)
    out = np.empty((len(idx), dim), dtype=np.float32)
    block = 50_000
    for start in range(0, len(idx), block):
        stop = min(len(idx), start + block)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        rows = base_vectors[idx[start:stop]] + (sigma / np.sqrt(dim)) * noise
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out[start:stop] = rows
    return out


def _key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _write_files(folder: Path, corpus: SyntheticCorpus) -> dict[str, FileMeta]:
    metas: dict[str, FileMeta] = {}
    for rel, text in corpus.file_texts.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        st = path.stat()
        metas[rel] = FileMeta(file_hash(text), st.st_size, st.st_mtime_ns)
    return metas


def synthetic_store(
    base: BaseCorpus,
    base_vectors: np.ndarray,
    size: int,
    model: str,
    *,
    with_files: bool,
    progress: bool = True,
    cache: bool = True,
) -> tuple[Path, Path | None, float]:
    """A saved store of ``size`` chunks; returns (store folder, source folder, build seconds).

    Build seconds are 0 when the store came from the cache.
    """
    import time

    from usearch import __version__ as usearch_version

    key = _key(
        {
            "size": size,
            "model": model,
            "dim": int(base_vectors.shape[1]),
            "sigma": SIGMA,
            "seed": SEED,
            "chunks_per_file": CHUNKS_PER_FILE,
            "base": base.digest,
            "base_vectors": hashlib.sha256(base_vectors.tobytes()).hexdigest()[:16],
            "usearch": usearch_version,
            "format": persist.FORMAT_VERSION,
            "settings": [hnsw.CONNECTIVITY, hnsw.EXPANSION_ADD],
            "vector_dtype": hnsw.preferred_vector_dtype(),
            "files": with_files,
            # A store with files is served by `codequest serve`, which rebuilds one whose
            # document recipe is not its own: such a store must be remade when the recipe moves.
            "recipe": DOCUMENT_RECIPE if with_files else None,
            "generator": GENERATOR_VERSION,
        }
    )
    root = bench_cache() / "synthetic" / f"{size}-{key}"
    store_dir, src_dir = root / "store", root / "src"
    done = root / "complete"
    if cache and done.is_file() and Store.peek_generation(store_dir) is not None:
        return store_dir, (src_dir if with_files else None), 0.0
    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    corpus = make_corpus(base, size)
    metas = _write_files(src_dir, corpus) if with_files else {}
    vectors = perturbed_vectors(base_vectors, corpus.base)

    # Terms: each base function's counts once, plus the path terms of its file.
    base_terms: dict[int, dict[str, int]] = {}
    path_cache: dict[str, list[str]] = {}

    def term_arrays(store: Store, i: int) -> tuple[np.ndarray, np.ndarray]:
        b = corpus.base[i]
        item = corpus.items[i]
        counts = base_terms.get(b)
        if counts is None:
            counts = base_terms[b] = chunk_terms("", item.symbol, item.text)
        extra = path_cache.get(item.path)
        if extra is None:
            extra = path_cache[item.path] = path_terms(item.path)
        merged = dict(counts)
        for term in extra:
            merged[term] = merged.get(term, 0) + 1
        return store.term_ids(merged)

    bar = Progress(f"build synthetic store {size:,}", 2 * size, enabled=progress)
    store = build_store(
        store_dir,
        model,
        corpus.items,
        vectors,
        term_arrays=term_arrays,
        files=metas,
        on_progress=lambda _stage, n: bar.update(n),
    )
    del vectors
    store.save()
    bar.close()
    done.write_text(str(os.getpid()))
    return store_dir, (src_dir if with_files else None), time.perf_counter() - started
