"""Retrieval quality on BEIR-format sets, through the shipped search path.

For each set the corpus goes into a real :class:`~codequest.store.Store` (one chunk per
document: ``path`` = the document id, ``kind=function``, ``symbol`` = its title), each
document embedded with the document encoder. Queries then go through
:class:`~codequest.search.Searcher`, the object the CLI and the language server use, with
hybrid fusion on or off. ``bm25`` is :mod:`codequest.lexical` alone (the engine's BM25
over identifier parts, no dense side and no ranking stage).

Each configuration is ``<mode>:<query encoder>`` with mode ``dense`` or ``hybrid`` and the
encoder any value of the ``queryEncoder`` setting (``teacher-onnx``, ``teacher-int8``,
``teacher`` under torch, ``auto``, a student folder) or ``hashing``; or just ``bm25``.
Query vectors are computed once per encoder (timed), then shared by its modes.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.beir import BeirSet, evaluate, query_metrics
from benchmarks.common import Progress, latency_stats
from benchmarks.encoders import (
    BM25,
    CachingDocumentEncoder,
    encoder_label,
    precision,
    query_encoder,
)
from benchmarks.memstore import FixedQueryEncoder, Item, TimedQueryEncoder, build_store
from codequest.encoders import (
    DOCUMENT_RECIPE,
    DocumentEncoder,
    HashingEncoder,
    QueryEncoder,
    document_text,
)
from codequest.encoders.teacher import SentenceTransformerEncoder
from codequest.index.lexical import LexicalIndex, chunk_terms
from codequest.index.store import Store
from codequest.search import Searcher
from codequest.tokens import tokenize
from codequest.types import Chunk

TOP_K = 10


@dataclass(frozen=True, slots=True)
class RunConfig:
    """One row of the quality table: a query encoder and whether lexical fusion is on."""

    encoder: str  # "bm25", "hashing", "teacher-onnx", ..., or a folder
    hybrid: bool = True

    @property
    def name(self) -> str:
        if self.encoder == BM25:
            return BM25
        return f"{'hybrid' if self.hybrid else 'dense'}:{encoder_label(self.encoder)}"

    @classmethod
    def parse(cls, text: str) -> RunConfig:
        """``bm25``, ``dense:ENC`` or ``hybrid:ENC`` (ENC may be a folder path)."""
        text = text.strip()
        if text == BM25:
            return cls(BM25, False)
        mode, sep, enc = text.partition(":")
        if not sep or mode not in ("dense", "hybrid") or not enc:
            raise ValueError(f"config {text!r} must be 'bm25', 'dense:ENCODER' or 'hybrid:ENCODER'")
        return cls(enc, mode == "hybrid")


# -- building blocks -----------------------------------------------------------------------
def corpus_items(data: BeirSet) -> list[Item]:
    return [Item(d.id, d.language, "function", d.title, 1, 1, d.text) for d in data.corpus]


def corpus_terms(data: BeirSet) -> list[dict[str, int]]:
    # No path terms: a document id is not a file path and must not match query words.
    return [chunk_terms("", d.title, d.text) for d in data.corpus]


def embed_corpus(
    encoder: DocumentEncoder, texts: Sequence[str], *, label: str, progress: bool = True
) -> np.ndarray:
    bar = Progress(f"embed {label}", len(texts), enabled=progress)
    vectors = encoder.encode_documents(texts, on_batch=bar.update)
    cached = getattr(encoder, "hits", None)
    bar.close(f"({cached} cached)" if cached is not None else "")
    return vectors


def document_texts(data: BeirSet) -> list[str]:
    """What the product's indexer would embed for each document (``document_text``: the
    context line, here the function name, as these documents have no path, then the code),
    so the numbers are those of the shipped system, not of bare texts."""
    return [
        document_text(Chunk("", d.language, "function", d.title, 1, 1, d.text, ""))
        for d in data.corpus
    ]


def corpus_store(data: BeirSet, encoder: DocumentEncoder, *, progress: bool = True) -> Store:
    vectors = embed_corpus(encoder, document_texts(data), label=data.name, progress=progress)
    directory = Path(tempfile.gettempdir()) / "codequest-bench-unsaved"
    return build_store(
        directory, encoder.identity, corpus_items(data), vectors, terms=corpus_terms(data)
    )


def bm25_top(store: Store, lexical: LexicalIndex, ids: np.ndarray, query: str, k: int) -> list[int]:
    term_ids = [store.vocab_ids[t] for t in tokenize(query) if t in store.vocab_ids]
    positions, _ = lexical.top(term_ids, k)
    return [int(ids[p]) for p in positions.tolist()]


def lexical_index(store: Store) -> tuple[LexicalIndex, np.ndarray]:
    ids = np.fromiter(store.chunks, dtype=np.int64, count=len(store.chunks))
    return LexicalIndex.build([store.terms[int(c)] for c in ids], len(store.vocab)), ids


# The torch teacher is slow per single query on a CPU (bf16 autocast re-casts the weights
# on every call), so its vectors are computed in one batch and only this many single calls
# are timed.
SLOW_ENCODER_TIMED = 40


def encode_queries(
    encoder: QueryEncoder, texts: Sequence[str], *, label: str, progress: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Vectors for unique texts, after two warm-up calls; returns them and timing stats.

    Each vector comes from a timed single ``encode_query`` call, except for the torch
    teacher (see ``SLOW_ENCODER_TIMED``): the stats then say ``batched_vectors``.
    """
    unique = list(dict.fromkeys(texts))
    timed = TimedQueryEncoder(encoder)
    for text in unique[:2]:
        encoder.encode_query(text)
    out: dict[str, np.ndarray] = {}
    batch = getattr(encoder, "encode_documents", None)
    if isinstance(encoder, SentenceTransformerEncoder) and batch is not None:
        for text in unique[:SLOW_ENCODER_TIMED]:
            timed.encode_query(text)
        bar = Progress(f"encode queries {label} (batched)", len(unique), enabled=progress)
        out = dict(zip(unique, batch(unique), strict=True))
        bar.update(len(unique))
        bar.close()
        return out, {**latency_stats(timed.seconds), "batched_vectors": True}
    bar = Progress(f"encode queries {label}", len(unique), enabled=progress)
    for text in unique:
        out[text] = timed.encode_query(text)
        bar.update()
    bar.close()
    return out, latency_stats(timed.seconds)


# -- one set ---------------------------------------------------------------------------------
def evaluate_set(
    data: BeirSet,
    doc_encoder: DocumentEncoder,
    configs: Sequence[RunConfig],
    *,
    model: str,
    per_query_dir: Path | None,
    progress: bool = True,
    encoders: dict[str, QueryEncoder] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    """Every config on one set; returns one summary row per config."""
    encoders = encoders if encoders is not None else {}
    store = corpus_store(data, doc_encoder, progress=progress)
    lexical, ids = lexical_index(store)
    qids = list(data.queries)
    texts = [data.queries[q] for q in qids]
    rows: list[dict[str, Any]] = []
    vectors_by_encoder: dict[str, tuple[dict[str, np.ndarray], dict[str, float]]] = {}
    for config in configs:
        started = time.perf_counter()
        search_seconds: list[float] = []
        rankings: dict[str, list[str]] = {}
        encode_stats: dict[str, float] = {"n": 0}
        if config.encoder == BM25:
            for qid, text in zip(qids, texts, strict=True):
                t0 = time.perf_counter()
                top = bm25_top(store, lexical, ids, text, TOP_K)
                search_seconds.append(time.perf_counter() - t0)
                rankings[qid] = [store.chunks[c].path for c in top]
        else:
            if config.encoder not in vectors_by_encoder:
                enc = encoders.get(config.encoder)
                if enc is None:
                    enc = query_encoder(model, config.encoder, doc_encoder.identity)
                    encoders[config.encoder] = enc
                vectors_by_encoder[config.encoder] = encode_queries(
                    enc,
                    texts,
                    label=f"{data.name} {encoder_label(config.encoder)}",
                    progress=progress,
                )
            vectors, encode_stats = vectors_by_encoder[config.encoder]
            searcher = Searcher(store, FixedQueryEncoder(vectors, doc_encoder.identity))
            searcher.search(texts[0], limit=TOP_K, hybrid=config.hybrid)  # builds the snapshot
            for qid, text in zip(qids, texts, strict=True):
                t0 = time.perf_counter()
                results = searcher.search(text, limit=TOP_K, hybrid=config.hybrid)
                search_seconds.append(time.perf_counter() - t0)
                rankings[qid] = list(dict.fromkeys(r.path for r in results))[:TOP_K]
        metrics = evaluate(rankings, data.qrels)
        row: dict[str, Any] = {
            "dataset": data.name,
            "split": data.split,
            "config": config.name,
            "encoder": encoder_label(config.encoder),
            "hybrid": config.hybrid,
            "document_encoder": doc_encoder.identity,
            "document_precision": precision(getattr(doc_encoder, "inner", doc_encoder)),
            "document_recipe": DOCUMENT_RECIPE,
            "queries": len(qids),
            "docs": len(data.corpus),
            **metrics,
            "encode_ms": encode_stats,
            "search_ms": latency_stats(search_seconds),
            "seconds": round(time.perf_counter() - started, 2),
        }
        if per_query_dir is not None:
            row["per_query_file"] = str(write_per_query(per_query_dir, data, config.name, rankings))
        log(
            f"  {data.name:<24} {config.name:<28} NDCG@10 {metrics.get('ndcg@10', 0):.4f}  "
            f"MRR@10 {metrics.get('mrr@10', 0):.4f}  R@10 {metrics.get('recall@10', 0):.3f}"
        )
        rows.append(row)
    return rows


def write_per_query(
    folder: Path, data: BeirSet, config: str, rankings: dict[str, list[str]]
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    safe = config.replace(":", "-").replace("/", "_")
    path = folder / f"{data.name}-{data.split}-{safe}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for qid, text in data.queries.items():
            ranking = rankings.get(qid, [])
            relevant = data.qrels[qid]
            record = {
                "qid": qid,
                "query": text,
                "relevant": relevant,
                "ranking": ranking,
                "first_relevant_rank": next(
                    (i for i, d in enumerate(ranking, start=1) if relevant.get(d, 0) > 0), None
                ),
                **{k: round(v, 4) for k, v in query_metrics(ranking, relevant).items()},
            }
            fh.write(json.dumps(record) + "\n")
    return path


def wrap_cache(encoder: DocumentEncoder) -> DocumentEncoder:
    """Cache real models' embeddings; the hashing encoder is cheaper than the cache."""
    if isinstance(encoder, HashingEncoder) or hasattr(encoder, "parts"):  # mixed: cached parts
        return encoder
    return CachingDocumentEncoder(encoder)
