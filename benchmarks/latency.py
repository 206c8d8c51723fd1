"""Query latency: the query encoder alone, and in-process search at 10k, 100k and 1M chunks.

Every latency comes with the recall@10 of the vector search it used, against an exact scan
of the same stored vectors (``usearch`` ``exact=True``). ``Store.search_vectors`` is exact
below ``store.EXACT_SEARCH_LIMIT`` vectors and HNSW above it, so recall is 1.0 by
construction at 10k and measured at 100k and 1M.

Timings are single queries, one after another, after a warm-up; percentiles use linear
interpolation. In-process search uses :class:`~codequest.search.Searcher` (what
``Workspace.search`` calls) with precomputed query vectors, so it excludes encoding;
``search_with_encode`` runs the same searches with the real query encoder.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Progress, latency_stats, round_stats
from benchmarks.memstore import FixedQueryEncoder
from codequest.config import Config
from codequest.encoders import QueryEncoder
from codequest.index.store import Store
from codequest.index.vectors import EXACT_SEARCH_LIMIT, expansion_for
from codequest.search import CANDIDATES, Searcher
from codequest.tokens import tokenize

EF_SWEEP = (64, 128, 200, 400)


def time_calls(fn: Callable[[str], object], inputs: Sequence[str], *, warmup: int) -> list[float]:
    for text in inputs[:warmup]:
        fn(text)
    gc.collect()
    out: list[float] = []
    for text in inputs:
        started = time.perf_counter()
        fn(text)
        out.append(time.perf_counter() - started)
    return out


def time_rounds(
    fn: Callable[[str], object], inputs: Sequence[str], *, warmup: int, rounds: int
) -> list[list[float]]:
    """``rounds`` passes over ``inputs`` after one warm-up; one list of seconds per pass."""
    out = [time_calls(fn, inputs, warmup=warmup)]
    for _ in range(rounds - 1):
        out.append(time_calls(fn, inputs, warmup=0))
    return out


def encode_latency(
    encoder: QueryEncoder, queries: Sequence[str], *, warmup: int = 20
) -> dict[str, Any]:
    seconds = time_calls(encoder.encode_query, queries, warmup=warmup)
    return {"encoder": getattr(encoder, "name", "?"), **latency_stats(seconds)}


def vector_recall(store: Store, vectors: np.ndarray, *, k: int = 10) -> float:
    """Recall@k of ``store.search_vectors`` (the shipped call, pool CANDIDATES) vs exact."""
    if len(store.vectors) == 0 or len(vectors) == 0:
        return 1.0
    exact = store.vectors.search(vectors, k, exact=True)
    hits = 0
    for row, vector in enumerate(vectors):
        ids, _ = store.search_vectors(vector, CANDIDATES)
        truth = {int(x) for x in exact.keys[row][: exact.counts[row]]}
        hits += len(truth.intersection(int(x) for x in ids[:k]))
    return round(hits / (k * len(vectors)), 4)


def ef_sweep(store: Store, vectors: np.ndarray, *, k: int = 10) -> list[dict[str, Any]]:
    """Raw usearch recall@k and single-query latency at several expansion_search values."""
    index = store.vectors
    shipped = expansion_for(len(index))
    exact = index.search(vectors, k, exact=True)
    truth = [{int(x) for x in exact.keys[r][: exact.counts[r]]} for r in range(len(vectors))]
    rows: list[dict[str, Any]] = []
    try:
        for ef in EF_SWEEP:
            index.expansion_search = ef
            seconds: list[float] = []
            hits = 0
            for r, vector in enumerate(vectors):
                started = time.perf_counter()
                m = index.search(vector, CANDIDATES)
                seconds.append(time.perf_counter() - started)
                hits += len(truth[r].intersection(int(x) for x in m.keys[:k]))
            rows.append(
                {
                    "ef": ef,
                    "shipped": ef == shipped,
                    "recall@10": round(hits / (k * len(vectors)), 4),
                    **latency_stats(seconds),
                }
            )
    finally:
        index.expansion_search = shipped
    return rows


def profile_search(
    searcher: Searcher, queries: Sequence[str], *, limit: int, top: int = 12
) -> list[dict[str, Any]]:
    """Where search time goes: the functions with the most own time under cProfile.

    cProfile inflates Python-level work relative to C calls, so read the shares as a
    ranking of suspects, not as exact fractions.
    """
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    for q in queries:
        searcher.search(q, limit=limit)
    profiler.disable()
    profiler.create_stats()  # what pstats.Stats reads: (file, line, name) -> counts, times
    raw = profiler.stats
    total = sum(v[2] for v in raw.values()) or 1.0
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    out = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in rows:
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else "builtin"
        out.append(
            {
                "function": f"{short}:{line}({name})",
                "calls_per_query": round(calls / max(1, len(queries)), 1),
                "own_share": round(tottime / total, 3),
                "cumulative_ms_per_query": round(cumtime * 1000 / max(1, len(queries)), 3),
            }
        )
    return out


def measure_store(
    store: Store,
    queries: Sequence[str],
    query_vectors: dict[str, np.ndarray],
    *,
    encoder: QueryEncoder | None,
    warmup: int = 20,
    recall_queries: int = 200,
    sweep: bool = True,
    progress: bool = True,
    rounds: int = 1,
) -> dict[str, Any]:
    """Latency and recall for one store; ``queries`` must all be in ``query_vectors``.

    The full search (with and without the encoder) is timed over ``rounds`` passes.
    """
    size = len(store.chunks)
    limit = Config().max_results
    bar = Progress(f"latency @ {size:,} chunks", 6, enabled=progress)
    vectors = np.stack([query_vectors[q] for q in queries[:recall_queries]])
    recall = vector_recall(store, vectors)
    bar.update()

    searcher = Searcher(store, FixedQueryEncoder(query_vectors, store.model))
    started = time.perf_counter()
    snapshot = searcher.snapshot()
    snapshot_ms = (time.perf_counter() - started) * 1000
    search = time_rounds(
        lambda q: searcher.search(q, limit=limit), queries, warmup=warmup, rounds=rounds
    )
    bar.update()
    dense_only = time_calls(
        lambda q: searcher.search(q, limit=limit, hybrid=False), queries, warmup=warmup
    )
    bar.update()
    vec = time_calls(
        lambda q: store.search_vectors(query_vectors[q], CANDIDATES), queries, warmup=warmup
    )
    bar.update()

    def lexical(q: str) -> object:
        ids = [snapshot.vocab_ids[t] for t in tokenize(q) if t in snapshot.vocab_ids]
        return snapshot.lexical.top(ids, CANDIDATES)

    lex = time_calls(lexical, queries, warmup=warmup)
    bar.update()
    with_encode: dict[str, Any] = {"n": 0}
    if encoder is not None:
        real = Searcher(store, encoder)
        real.snapshot()
        with_encode = round_stats(
            time_rounds(
                lambda q: real.search(q, limit=limit), queries, warmup=warmup, rounds=rounds
            )
        )
    bar.update()
    exact = size <= EXACT_SEARCH_LIMIT
    out: dict[str, Any] = {
        "chunks": size,
        "dim": store.dim,
        "vector_search_mode": "exact" if exact else "hnsw",
        "expansion_search": expansion_for(len(store.vectors)),
        "recall@10": recall,
        "recall_queries": len(vectors),
        "snapshot_build_ms": round(snapshot_ms, 1),
        "search": round_stats(search),
        "search_dense_only": latency_stats(dense_only),
        "search_with_encode": with_encode,
        "breakdown": {
            "vector_search": latency_stats(vec),
            "bm25": latency_stats(lex),
        },
        "limit": limit,
    }
    s50 = out["search"].get("p50_ms", 0.0)
    v50 = out["breakdown"]["vector_search"].get("p50_ms", 0.0)
    l50 = out["breakdown"]["bm25"].get("p50_ms", 0.0)
    out["breakdown"]["rest_p50_ms"] = round(max(0.0, s50 - v50 - l50), 4)
    out["profile"] = profile_search(searcher, queries[:100], limit=limit)
    if sweep and not exact:
        out["ef_sweep"] = ef_sweep(store, vectors[: min(len(vectors), 100)])
    bar.close(
        f"recall@10 {recall:.3f}  search p50 {s50:.2f} ms (vectors {v50:.2f}, bm25 {l50:.2f})"
    )
    return out


def ort_threading_check(
    store: Store,
    queries: Sequence[str],
    query_vectors: dict[str, np.ndarray],
    encoder: QueryEncoder,
    *,
    warmup: int = 20,
) -> dict[str, Any] | None:
    """Search + encode with the shipped ONNX session options (one intra-op thread) and with
    two threads, spinning or not (sessions rebuilt here; the product is not changed).

    ONNX Runtime's intra-op threads spin after each run by default; on a 2-core machine the
    spinning thread competes with the BM25 work that runs beside the encoding.
    """
    from codequest.encoders.onnx_query import OnnxQueryEncoder

    if not isinstance(encoder, OnnxQueryEncoder):
        return None
    import onnxruntime as ort

    session = encoder._session

    limit = Config().max_results
    fixed = Searcher(store, FixedQueryEncoder(query_vectors, store.model))
    fixed.snapshot()
    real = Searcher(store, encoder)
    real.snapshot()
    out: dict[str, Any] = {
        "search_only": latency_stats(
            time_calls(lambda q: fixed.search(q, limit=limit), queries, warmup=warmup)
        )
    }
    model_path = str(encoder.folder / str(encoder.card.get("onnx_file", "model.onnx")))
    variants = {
        "shipped": None,  # default_threads() (1), no spinning
        "two_threads_no_spinning": (2, "0"),
        "two_threads_spinning": (2, "1"),
    }
    try:
        for name, opts in variants.items():
            if opts is not None:
                so = ort.SessionOptions()
                so.intra_op_num_threads = opts[0]
                so.inter_op_num_threads = 1
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                so.add_session_config_entry("session.intra_op.allow_spinning", opts[1])
                encoder._session = ort.InferenceSession(
                    model_path, sess_options=so, providers=["CPUExecutionProvider"]
                )
            out[name] = {
                "encode": latency_stats(time_calls(encoder.encode_query, queries, warmup=warmup)),
                "search_with_encode": latency_stats(
                    time_calls(lambda q: real.search(q, limit=limit), queries, warmup=warmup)
                ),
            }
    finally:
        encoder._session = session
    return out


def lsp_range_cost(
    store: Store, src_dir: Path, queries: Sequence[str], encoder: QueryEncoder
) -> dict[str, Any] | None:
    """Time the language server's result conversion (LSP ranges read each result's file)."""
    try:
        from codequest.lsp.ranges import result_range
    except ImportError:
        return None
    limit = Config().max_results
    searcher = Searcher(store, encoder)
    searcher.snapshot()
    results = [searcher.search(q, limit=limit) for q in queries]
    seconds: list[float] = []
    for rows in results:
        started = time.perf_counter()
        for r in rows:
            result_range(src_dir / r.path, r.start_line, r.end_line, "utf-16")
        seconds.append(time.perf_counter() - started)
    return {"results_per_request": limit, **latency_stats(seconds)}
