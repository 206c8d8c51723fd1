"""Ranking quality: stdlib-bench per category, CoSQA and csn-maxmin-*, with ablation rows.

Every row is a :class:`~codequest.search.RankingOptions`; the query embeddings are computed
once and shared by all rows, so the rows differ only in ranking.

    python -m benchmarks.ranking --corpus /tmp/stdlib-corpus --index /tmp/stdlib-bench-index \\
        [--beir cosqa csn-maxmin-python ...] [--cv] [--query-encoder NAME] \\
        [--out benchmarks/results]

The stdlib-bench corpus comes from ``materialize.py`` (CPython 3.11.7) and is indexed with a
real :class:`~codequest.workspace.Workspace` and the default model. BEIR-style sets are put
into an in-memory store, one document per chunk (``kind=function``, ``symbol=title``), with
document embeddings cached as ``.npy`` under ``--cache``. Query embeddings are cached there
too, one file per query set and query encoder (``--query-encoder``, the ``queryEncoder``
setting; default: the config's). Results go to ``benchmarks/results/ranking-<commit>.json``,
or ``ranking-<encoder>-<commit>.json`` for a query encoder other than the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.beir import BeirSet, load_beir
from benchmarks.common import eval_root, git_info, machine_info
from benchmarks.memstore import FixedQueryEncoder
from benchmarks.stdlib_bench import CATEGORIES, load_annotations, ndcg
from codequest.config import Config
from codequest.encoders import DOCUMENT_RECIPE, QueryEncoder, document_text
from codequest.errors import StoreError
from codequest.index.lexical import chunk_terms
from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.store import Store
from codequest.metrics import mrr_at_k, ndcg_at_k
from codequest.search import (
    DEFAULT_WEIGHTS,
    QUERY_IDENTIFIER,
    QUERY_NATURAL,
    QUERY_QUESTION,
    Fusion,
    FusionWeights,
    QueryClass,
    RankingOptions,
    Searcher,
    classify_query,
)
from codequest.types import Chunk, DefinedName

# The fusion that shipped before this ranking (weighted RRF, weights per query class).
PREVIOUS_RRF = {
    QUERY_IDENTIFIER: FusionWeights(dense=0.35, lexical=1.0, name=0, path=0),
    QUERY_NATURAL: FusionWeights(dense=1.0, lexical=0.35, name=0, path=0),
    QUERY_QUESTION: FusionWeights(dense=1.0, lexical=0.5, name=0, path=0),
}


# The per-file cap before it was chosen by cross-validation (see ``cross_validate_cap``).
PREVIOUS_CAP = 3
CAP_GRID = (3, 4, 5, 6, 8, 10, 15, 20)


def rows() -> dict[str, RankingOptions]:
    """The table: baselines, the shipped ranking, and the shipped ranking minus one stage."""
    shipped = RankingOptions()
    plain = RankingOptions(fusion=Fusion.RRF, query_expansion=False, demote=False)
    return {
        "bm25 (lexical only)": dataclasses.replace(plain, dense=False),
        "dense only": dataclasses.replace(plain, lexical=False),
        "rrf equal k=60": dataclasses.replace(plain, rrf_equal=True),
        "rrf weighted (an earlier default)": dataclasses.replace(plain, weights=PREVIOUS_RRF),
        "shipped": shipped,
        "- definitions of the names a query mentions": dataclasses.replace(
            shipped, definition_boost=False
        ),
        "- file and folder name words": dataclasses.replace(shipped, stem_boost=False),
        "- files named after the query's words": dataclasses.replace(
            shipped, named_file_boost=False
        ),
        "- file coherence": dataclasses.replace(shipped, coherence_boost=False),
        "- per-file decay": dataclasses.replace(shipped, decay=1.0),
        "- demotions (tests, legacy, re-exports, ...)": dataclasses.replace(shipped, demote=False),
        "- symbol table & name": dataclasses.replace(shipped, symbol_match=False),
        "- name feature (keep symbol candidates)": dataclasses.replace(shipped, name_feature=False),
        "- query expansion": dataclasses.replace(shipped, query_expansion=False),
        "- lexical": dataclasses.replace(shipped, lexical=False),
        "- dense": dataclasses.replace(shipped, dense=False),
        "+ class results for questions": dataclasses.replace(
            shipped, class_result_queries=(QueryClass.QUESTION,)
        ),
        f"per-file cap {PREVIOUS_CAP}": dataclasses.replace(shipped, max_per_file=PREVIOUS_CAP),
    }


def query_cache_key(encoder: Any) -> str:
    """A file-name part that tells query encoders apart: the name and a digest of the card.

    Names alone collide (both int8 teacher exports are ``teacher-onnx-int8``); the card
    records the precision, quantization and training. Encoders without a card are keyed by
    name and teacher.
    """
    name = str(getattr(encoder, "name", type(encoder).__name__))
    card = getattr(encoder, "card", None)
    identity = (
        json.dumps(card, sort_keys=True)
        if isinstance(card, dict)
        else f"{name}\x00{getattr(encoder, 'teacher_identity', '')}"
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}-{digest}"


class CachedQueries:
    """A query encoder that remembers (and can persist) what it has embedded.

    ``cache_file`` should be keyed by the encoder (:func:`query_cache_key`): the file holds
    vectors by query text only.
    """

    def __init__(self, inner: QueryEncoder, cache_file: Path | None = None) -> None:
        self.inner = inner
        self.cache_file = cache_file
        self.vectors: dict[str, np.ndarray] = {}
        if cache_file is not None and cache_file.is_file():
            data = np.load(cache_file, allow_pickle=False)
            texts = json.loads(cache_file.with_suffix(".json").read_text())
            self.vectors = {t: data[i] for i, t in enumerate(texts)}

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
        vec = self.vectors.get(text)
        if vec is None:
            vec = np.asarray(self.inner.encode_query(text), np.float32)
            self.vectors[text] = vec
        return vec

    def save(self) -> None:
        if self.cache_file is None or not self.vectors:
            return
        texts = list(self.vectors)
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(self.cache_file, np.stack([self.vectors[t] for t in texts]))
        self.cache_file.with_suffix(".json").write_text(json.dumps(texts))


# -- stdlib-bench ----------------------------------------------------------------------------
def stdlib_runs(
    searcher: Searcher, options: Mapping[str, RankingOptions], k: int = 10
) -> dict[str, list[dict[str, Any]]]:
    annotations = load_annotations()
    out: dict[str, list[dict[str, Any]]] = {}
    for name, opts in options.items():
        run = []
        for item in annotations:
            results = searcher.search(item["query"], limit=k, options=opts)
            hits = [f"{r.path}:{r.start_line}-{r.end_line}" for r in results]
            targets = item["relevant"] + item.get("secondary", [])
            run.append(
                {
                    "query": item["query"],
                    "category": item["category"],
                    "class": classify_query(item["query"]),
                    "results": hits,
                    "lines": [r.end_line - r.start_line + 1 for r in results],
                    "ndcg10": ndcg(hits, targets, k),
                }
            )
        out[name] = run
    return out


def summarize(run: Sequence[dict[str, Any]]) -> dict[str, float]:
    row: dict[str, float] = {"overall": statistics.fmean(r["ndcg10"] for r in run)}
    for cat in CATEGORIES:
        vals = [r["ndcg10"] for r in run if r["category"] == cat]
        row[cat] = statistics.fmean(vals) if vals else math.nan
    lines = [n for r in run for n in r["lines"]]
    row["median_lines"] = float(statistics.median(lines)) if lines else 0.0
    row["p90_lines"] = float(np.percentile(lines, 90)) if lines else 0.0
    return row


# -- BEIR-style sets (CoSQA, csn-maxmin-*) ---------------------------------------------------
def beir_store(
    data: BeirSet, encode_docs: Callable[[list[str]], np.ndarray], cache: Path
) -> tuple[Store, dict[str, str]]:
    """An in-memory store with one function chunk per document; returns it and path->doc id."""
    # The product's recipe (name in front; these documents have no path), so the cache key,
    # a digest of the embedded texts, changes with the recipe.
    texts = [
        document_text(Chunk("", d.language, "function", d.title, 1, 1, d.text, ""))
        for d in data.corpus
    ]
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:12]
    emb_file = cache / f"{data.name}-{digest}.npy"
    if emb_file.is_file():
        vectors = np.load(emb_file)
    else:
        vectors = encode_docs(texts)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(emb_file, vectors)
    store = Store(Path(tempfile.mkdtemp(prefix="cq-beir-")), "bench", vectors.shape[1])
    doc_of: dict[str, str] = {}
    for doc, vec in zip(data.corpus, vectors, strict=True):
        path = f"docs/{doc.id}.{_EXT.get(doc.language, 'txt')}"
        doc_of[path] = doc.id
        lines = doc.text.count("\n") + 1
        record = ChunkRecord(
            0,
            path,
            doc.language,
            "function",
            doc.title,
            1,
            lines,
            "",
            "",
            None,
            (DefinedName(doc.title, "function", 1, lines),),
        )
        counts = chunk_terms("", record.symbol, doc.text)
        store.put_file(
            FileRecord(path, record.language, "", 0, 0, ()), [(record, counts)], vec[None]
        )
    return store, doc_of


_EXT = {"python": "py", "go": "go", "java": "java", "javascript": "js", "php": "php"}


def beir_eval(
    store: Store,
    doc_of: Mapping[str, str],
    data: BeirSet,
    queries: CachedQueries,
    options: Mapping[str, RankingOptions],
) -> dict[str, dict[str, float]]:
    searcher = Searcher(store, queries, max_per_file=1)
    table: dict[str, dict[str, float]] = {}
    for row, opts in options.items():
        ndcgs, mrrs = [], []
        for qid, rel in data.qrels.items():
            results = searcher.search(data.queries[qid], limit=10, options=opts)
            ranked = [doc_of[r.path] for r in results]
            ndcgs.append(ndcg_at_k(ranked, rel, 10))
            mrrs.append(mrr_at_k(ranked, rel, 10))
        table[row] = {"ndcg10": statistics.fmean(ndcgs), "mrr10": statistics.fmean(mrrs)}
    return table


# -- weight selection ------------------------------------------------------------------------
def weight_grid() -> list[FusionWeights]:
    grid = []
    for dense, lexical, name, path, file in itertools.product(
        (0.5, 1.0), (0.2, 0.5, 1.0), (0.0, 0.2, 0.5, 1.0), (0.0, 0.1, 0.3), (0.0, 0.3)
    ):
        grid.append(FusionWeights(dense=dense, lexical=lexical, name=name, path=path, file=file))
    return grid


def cross_validate(
    searcher: Searcher, folds: int = 5, seed: int = 0
) -> tuple[dict[QueryClass, FusionWeights], dict[str, float], list[dict[str, Any]]]:
    """Per query class: pick weights on k-1 folds, score the held-out fold.

    Returns the weights picked on all queries, the cross-validated NDCG per category and the
    per-fold picks. Query classes come from :func:`classify_query`, not from the labels.
    """
    annotations = load_annotations()
    grid = weight_grid()
    # ndcg[g][i]: grid point g on query i, each query run with its own class's weights
    kinds = (QUERY_IDENTIFIER, QUERY_NATURAL, QUERY_QUESTION)
    options = [RankingOptions(weights=dict.fromkeys(kinds, fw)) for fw in grid]
    per_query = _per_query_ndcg(searcher, annotations, options)
    classes = np.array([classify_query(a["query"]) for a in annotations])
    cats = np.array([a["category"] for a in annotations])
    fold_of = _fold_of(len(annotations), folds, seed)
    held = np.zeros(len(annotations))
    picks: list[dict[str, Any]] = []
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        pick: dict[str, Any] = {"fold": f}
        for cls in np.unique(classes):
            mask = classes == cls
            best = int(np.argmax(per_query[:, train & mask].mean(axis=1)))
            held[test & mask] = per_query[best, test & mask]
            pick[str(cls)] = dataclasses.asdict(grid[best])
        picks.append(pick)
    final = {}
    for cls in (QUERY_IDENTIFIER, QUERY_NATURAL, QUERY_QUESTION):
        mask = classes == cls
        final[cls] = (
            grid[int(np.argmax(per_query[:, mask].mean(axis=1)))]
            if mask.any()
            else (DEFAULT_WEIGHTS[cls])
        )
    cv = {"overall": float(held.mean())}
    for cat in CATEGORIES:
        cv[cat] = float(held[cats == cat].mean())
    return final, cv, picks


def _per_query_ndcg(
    searcher: Searcher, annotations: list[dict[str, Any]], options: Sequence[RankingOptions]
) -> np.ndarray:
    """NDCG@10 of every query (columns) under every ranking option set (rows)."""
    out = np.zeros((len(options), len(annotations)))
    for row, opts in enumerate(options):
        for i, item in enumerate(annotations):
            res = searcher.search(item["query"], limit=10, options=opts)
            hits = [f"{r.path}:{r.start_line}-{r.end_line}" for r in res]
            out[row, i] = ndcg(hits, item["relevant"] + item.get("secondary", []), 10)
    return out


def _fold_of(n: int, folds: int, seed: int) -> np.ndarray:
    """The fold of each query: a seeded shuffle dealt round-robin."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold_of = np.empty(n, int)
    for j, i in enumerate(order):
        fold_of[i] = j % folds
    return fold_of


def cross_validate_cap(
    searcher: Searcher, caps: Sequence[int] = CAP_GRID, folds: int = 5, seed: int = 0
) -> tuple[int, dict[str, float], list[dict[str, Any]]]:
    """The per-file cap: pick the best mean NDCG@10 on k-1 folds, score the held-out fold.

    One cap for all queries (it is one user setting); ties go to the smaller cap. Uses the
    shipped weights and the same folds as :func:`cross_validate`. Returns the cap picked on
    all queries, the cross-validated NDCG per category, and the per-fold picks.
    """
    annotations = load_annotations()
    per_query = _per_query_ndcg(
        searcher, annotations, [RankingOptions(max_per_file=cap) for cap in caps]
    )
    cats = np.array([a["category"] for a in annotations])
    fold_of = _fold_of(len(annotations), folds, seed)
    held = np.zeros(len(annotations))
    picks: list[dict[str, Any]] = []
    for f in range(folds):
        train, test = fold_of != f, fold_of == f
        best = int(np.argmax(per_query[:, train].mean(axis=1)))  # first max: smallest cap
        held[test] = per_query[best, test]
        picks.append({"fold": f, "cap": caps[best]})
    cv = {"overall": float(held.mean())}
    for cat in CATEGORIES:
        cv[cat] = float(held[cats == cat].mean())
    cv.update({f"cap {cap}": float(per_query[c].mean()) for c, cap in enumerate(caps)})
    return caps[int(np.argmax(per_query.mean(axis=1)))], cv, picks


# -- latency -------------------------------------------------------------------------------
def synthetic_store(chunks: int = 100_000, dim: int = 384, seed: int = 0) -> Store:
    """Random chunks with code-like symbols, paths and Zipf-distributed terms."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20_000)] + [
        "parse", "read", "write", "file", "json", "http", "request", "handler", "event", "loop",
        "callback", "timer", "config", "load", "save", "cache", "error", "test", "client",
    ]  # fmt: skip
    zipf = np.minimum(rng.zipf(1.3, size=chunks * 40), len(words)) - 1
    store = Store(Path(tempfile.mkdtemp(prefix="cq-lat-")), "bench", dim)
    vectors = rng.standard_normal((chunks, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_file = 10
    ids = np.arange(1, chunks + 1, dtype=np.uint64)
    for f in range(chunks // per_file):
        folder = words[-1 - f % 19]
        path = f"src/{folder}/{words[f % 20_000]}_{f}.py"
        if f % 10 == 0:
            path = f"tests/test_{f}.py"
        chunk_ids = []
        for j in range(per_file):
            i = f * per_file + j
            a, b = words[int(zipf[i * 40])], words[int(zipf[i * 40 + 1])]
            symbol = f"{a.capitalize()}{b.capitalize()}" if j == 0 else f"Cls{f}.{a}_{b}"
            kind = "class" if j == 0 else "method"
            text = " ".join(words[int(t)] for t in zipf[i * 40 : i * 40 + 40])
            cid = i + 1
            store.chunks[cid] = ChunkRecord(
                cid,
                path,
                "python",
                kind,
                symbol,
                j * 20 + 1,
                j * 20 + 20,
                str(cid),
                "",
                None,
                (DefinedName(symbol, kind, j * 20 + 1, j * 20 + 20),),
            )
            store.terms[cid] = store.term_ids(chunk_terms(path, symbol, text))
            chunk_ids.append(cid)
        store.files[path] = FileRecord(path, "python", "", 0, 0, tuple(chunk_ids))
    # One bulk insert: the store's per-file path would spend minutes on HNSW inserts.
    store.vectors.add(ids, vectors)
    store.next_id = chunks + 1
    store.version += 1
    return store


LATENCY_QUERIES = (
    "parse_json_file",
    "HttpRequestHandler",
    "ReadConfig",
    "read a json config file from disk",
    "write the cache to a file",
    "how does the event loop run timer callbacks",
    "where are http request errors handled",
    "loadCache",
)


def latency(chunks: int = 100_000, repeats: int = 30) -> dict[str, Any]:
    """Per-query p50/p90 in process, the same fixed query vectors for every row."""
    started = time.perf_counter()
    cached = Path(tempfile.gettempdir()) / f"cq-latency-store-{chunks}"
    try:
        store = Store.load(cached)
    except StoreError:
        store = synthetic_store(chunks)
        store.directory = cached
        store.save()
    built = time.perf_counter() - started
    rng = np.random.default_rng(1)
    qv = {q: (v / np.linalg.norm(v)).astype(np.float32) for q in LATENCY_QUERIES for v in [
        rng.standard_normal(store.dim)
    ]}  # fmt: skip
    searcher = Searcher(store, FixedQueryEncoder(qv, store.model))
    t0 = time.perf_counter()
    searcher.snapshot()
    snapshot_s = time.perf_counter() - t0
    plain = RankingOptions(
        fusion=Fusion.RRF, query_expansion=False, demote=False, weights=PREVIOUS_RRF
    )
    out: dict[str, Any] = {"chunks": chunks, "build_s": built, "snapshot_s": snapshot_s}
    variants = {"retrieval (previous rrf)": plain, "shipped ranking": RankingOptions()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for opts in variants.values():
        for q in LATENCY_QUERIES:
            searcher.search(q, limit=20, options=opts)  # warm
    # Interleaved, so both rows see the same machine load (the machine may be shared).
    for _ in range(repeats):
        for q in LATENCY_QUERIES:
            for name, opts in variants.items():
                t, c = time.perf_counter(), time.thread_time()
                searcher.search(q, limit=20, options=opts)
                cpu[name].append(time.thread_time() - c)
                times[name].append(time.perf_counter() - t)
    for name in variants:
        wall, used = np.asarray(times[name]) * 1000, np.asarray(cpu[name]) * 1000
        out[name] = {
            "p50_ms": float(np.median(wall)),
            "p90_ms": float(np.percentile(wall, 90)),
            "cpu_p50_ms": float(np.median(used)),
            "cpu_p90_ms": float(np.percentile(used, 90)),
        }
    # Wall time on a shared host is mostly other people's load; thread CPU time is not.
    base, ship = "retrieval (previous rrf)", "shipped ranking"
    out["ranking_cost_p50_ms"] = out[ship]["p50_ms"] - out[base]["p50_ms"]
    out["ranking_cost_cpu_p50_ms"] = out[ship]["cpu_p50_ms"] - out[base]["cpu_p50_ms"]
    return out


# -- main ------------------------------------------------------------------------------------
def _print_table(title: str, table: Mapping[str, Mapping[str, float]], cols: Sequence[str]) -> None:
    print(f"\n## {title}")
    print("| row | " + " | ".join(cols) + " |")
    print("| --- | " + " | ".join("---:" for _ in cols) + " |")
    for row, vals in table.items():
        print(f"| {row} | " + " | ".join(f"{vals.get(c, math.nan):.4f}" for c in cols) + " |")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="/tmp/stdlib-corpus")
    parser.add_argument("--index", default="/tmp/stdlib-bench-index")
    parser.add_argument("--beir", nargs="*", default=[], help="cosqa, csn-maxmin-python, ...")
    parser.add_argument("--cache", default="/tmp/cq-bench-emb", help="embedding cache folder")
    parser.add_argument(
        "--query-encoder",
        default=Config().query_encoder,
        help="the queryEncoder setting: auto, teacher-int8, a shipped student's name, a folder",
    )
    parser.add_argument("--cv", action="store_true", help="5-fold weight selection on stdlib")
    parser.add_argument("--only", nargs="*", help="row names to run (default: all)")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--latency", type=int, default=0, help="synthetic store size (0: skip)")
    parser.add_argument(
        "--recipe1-index", help="a stdlib index embedded with document recipe 1 (ablation rows)"
    )
    parser.add_argument("--dump-runs", help="write per-query stdlib runs here (JSONL per row)")
    return parser


def _write(out: str, name: str, result: dict[str, Any]) -> Path:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def _stdlib_report(
    args: argparse.Namespace, searcher: Searcher, queries: CachedQueries, model: str
) -> dict[str, Any]:
    """The ablation table on stdlib-bench, plus the recipe-1 rows and the per-query dump."""
    options = rows()
    if args.only:
        options = {k: v for k, v in options.items() if k in args.only}
    started = time.perf_counter()
    runs = stdlib_runs(searcher, options)
    if args.recipe1_index:
        # The same ranking over vectors embedded from the code alone (document recipe 1):
        # the ablation of the context line. That store is loaded without a recipe check.
        old_store = Store.load(args.recipe1_index, model=model, read_only=True)
        old_searcher = Searcher(old_store, queries, max_per_file=searcher.max_per_file)
        recipe1 = {"- context line (recipe 1 vectors)": RankingOptions()}
        if not args.only or "dense only" in args.only:
            recipe1["dense only, recipe 1 vectors"] = rows()["dense only"]
        runs.update(stdlib_runs(old_searcher, recipe1))
    table = {name: summarize(run) for name, run in runs.items()}
    _print_table(
        "stdlib-bench NDCG@10", table, ("overall", *CATEGORIES, "median_lines", "p90_lines")
    )
    if args.dump_runs:
        with open(args.dump_runs, "w") as fh:
            for name, run in runs.items():
                for r in run:
                    fh.write(json.dumps({"row": name, **r}) + "\n")
    return {"stdlib": table, "stdlib_seconds": time.perf_counter() - started}


def _cv_report(searcher: Searcher) -> dict[str, Any]:
    """5-fold cross-validation of the per-file cap and of the fusion weights."""
    cap, cap_cv, cap_picks = cross_validate_cap(searcher)
    print("\nper-file cap, 5-fold CV NDCG@10:", json.dumps(cap_cv))
    print("cap picked on all queries:", cap, "per fold:", [p["cap"] for p in cap_picks])
    final, cv, picks = cross_validate(searcher)
    picked = {k: dataclasses.asdict(v) for k, v in final.items()}
    print("\n5-fold CV NDCG@10:", json.dumps(cv))
    print("picked on all queries:", json.dumps(picked))
    return {
        "cv_cap": {"stdlib_5fold": cap_cv, "picked_on_all": cap, "folds": cap_picks},
        "cv": {"stdlib_5fold": cv, "picked_on_all": picked, "folds": picks},
    }


def beir_rows() -> dict[str, RankingOptions]:
    """The BEIR table: baselines, shipped, four ablations and the natural-language ratio."""
    keep = ("- lexical", "- dense", "- symbol table & name", "- class results")
    out = {k: v for k, v in rows().items() if (not k.startswith(("- ", "class "))) or k in keep}
    # The dense share for natural language, read on CoSQA dev (not test).
    for dense in (0.8, 0.82, 0.84, 0.86, 0.88, 0.9):
        weights = dict(DEFAULT_WEIGHTS)
        weights[QUERY_NATURAL] = dataclasses.replace(
            weights[QUERY_NATURAL], dense=dense, lexical=round(1 - dense, 2)
        )
        out[f"natural dense={dense} lexical={round(1 - dense, 2)}"] = RankingOptions(
            weights=weights
        )
    return out


def _beir_report(
    names: Sequence[str],
    encode_docs: Callable[[list[str]], np.ndarray],
    query_encoder: QueryEncoder,
    qkey: str,
    cache: Path,
) -> dict[str, dict[str, dict[str, float]]]:
    options = beir_rows()
    report: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        test = load_beir(eval_root() / name, "test")
        store, doc_of = beir_store(test, encode_docs, cache)
        bq = CachedQueries(query_encoder, cache / f"queries-{name}-{qkey}.npy")
        splits = (test, load_beir(eval_root() / name, "dev")) if name == "cosqa" else (test,)
        for data in splits:
            res = beir_eval(store, doc_of, data, bq, options)
            report[f"{name}/{data.split}"] = res
            _print_table(f"{name} {data.split}", res, ("ndcg10", "mrr10"))
        bq.save()
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commit = git_info()["short"]
    if args.latency:
        result = latency(args.latency)
        print(json.dumps(result, indent=2))
        _write(args.out, f"ranking-latency-{commit}.json", result)
        return 0

    from codequest.workspace import Workspace

    cache = Path(args.cache)
    config = Config(cache_dir=args.index, query_encoder=args.query_encoder)
    ws = Workspace(args.corpus, config)
    # Always: a current index is a no-op; one from another model or recipe is rebuilt.
    print(f"indexing {args.corpus} into {args.index} ...", file=sys.stderr)
    report_index = ws.index()
    if report_index.rebuilt:
        print(f"rebuilt: {report_index.rebuild_reason}", file=sys.stderr)
    query_encoder = ws.query_encoder()
    qkey = query_cache_key(query_encoder)
    queries = CachedQueries(query_encoder, cache / f"queries-stdlib-{qkey}.npy")
    searcher = Searcher(ws.store, queries, max_per_file=config.max_chunks_per_file)
    report: dict[str, Any] = {
        "commit": commit,
        "machine": machine_info(),
        "stdlib_chunks": len(ws.store.chunks),
        "model": ws.store.model,
        "document_recipe": DOCUMENT_RECIPE,
        "query_encoder": queries.name,
        "query_encoder_setting": args.query_encoder,
        "query_encoder_key": qkey,
        "weights": {k: dataclasses.asdict(v) for k, v in DEFAULT_WEIGHTS.items()},
    }
    report.update(_stdlib_report(args, searcher, queries, ws.store.model))
    if args.cv:
        report.update(_cv_report(searcher))
    queries.save()
    if args.beir:
        encode_docs = ws.document_encoder().encode_documents
        report["beir"] = _beir_report(args.beir, encode_docs, query_encoder, qkey, cache)
    label = "" if args.query_encoder == Config().query_encoder else f"{qkey.rsplit('-', 1)[0]}-"
    path = _write(args.out, f"ranking-{label}{commit}.json", report)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
