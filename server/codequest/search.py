"""Hybrid retrieval and ranking over a :class:`~codequest.store.Store`.

Dense (query encoder → usearch) and lexical (BM25 over identifier parts) candidates are
fused by weighted reciprocal rank, with weights that depend on what kind of query it is,
then filtered and diversified so one file cannot flood the list. No torch here.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import pathspec

from codequest.encoders import QueryEncoder
from codequest.files import is_test_path
from codequest.lexical import LexicalIndex
from codequest.store import ChunkRecord, Store
from codequest.tokens import tokenize
from codequest.types import SearchFilters, SearchResult

RRF_K = 60
CANDIDATES = 100
# A snapshot older than this is rebuilt while the store keeps changing (indexing).
SNAPSHOT_MAX_AGE = 1.0

QUERY_IDENTIFIER = "identifier"
QUERY_NATURAL = "natural"
QUERY_QUESTION = "question"

_IDENT = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)*\(?\)?$")
_QUESTION_START = re.compile(r"^(how|where|what|why|which|who|when)\b", re.IGNORECASE)


class InvalidQuery(ValueError):
    """A search parameter (glob, language, limit) is invalid."""


def classify_query(query: str) -> str:
    """Cheap query understanding, no model call: identifier, question or natural language."""
    text = query.strip()
    words = text.split()
    if len(words) == 1 and _IDENT.match(text):
        return QUERY_IDENTIFIER
    if _QUESTION_START.match(text) or text.endswith("?"):
        return QUERY_QUESTION
    return QUERY_NATURAL


# (dense weight, lexical weight) per query class. Natural-language queries lean on the
# dense side: equal-weight fusion measurably hurts them (see docs/ranking.md).
FUSION_WEIGHTS = {
    QUERY_IDENTIFIER: (0.35, 1.0),
    QUERY_NATURAL: (1.0, 0.35),
    QUERY_QUESTION: (1.0, 0.5),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable view for queries, rebuilt when the store changes."""

    version: int
    built_at: float
    ids: np.ndarray  # position -> chunk id
    records: tuple[ChunkRecord, ...]
    position: dict[int, int]
    lexical: LexicalIndex
    vocab_ids: dict[str, int]

    @classmethod
    def build(cls, store: Store) -> Snapshot:
        with store.lock:
            version = store.version
            records = tuple(store.chunks.values())
            terms = [store.terms[r.id] for r in records]
            vocab_ids = dict(store.vocab_ids)
            vocab_size = len(store.vocab)
        ids = np.fromiter((r.id for r in records), dtype=np.int64, count=len(records))
        position = {int(cid): i for i, cid in enumerate(ids)}
        lexical = LexicalIndex.build(terms, vocab_size)
        return cls(version, time.monotonic(), ids, records, position, lexical, vocab_ids)


def compile_glob(glob: str | None) -> pathspec.PathSpec | None:
    if not glob:
        return None
    try:
        return pathspec.PathSpec.from_lines("gitwildmatch", [glob])
    except Exception as err:  # noqa: BLE001 - pathspec raises several types for bad patterns
        raise InvalidQuery(f"invalid glob {glob!r}: {err}") from err


class Searcher:
    def __init__(self, store: Store, query_encoder: QueryEncoder, *, max_per_file: int = 3) -> None:
        self.store = store
        self.query_encoder = query_encoder
        self.max_per_file = max_per_file
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        snap = self._snapshot
        if snap is not None and (
            snap.version == self.store.version
            or time.monotonic() - snap.built_at < SNAPSHOT_MAX_AGE
        ):
            return snap
        with self._snapshot_lock:
            snap = self._snapshot
            if snap is None or snap.version != self.store.version:
                snap = Snapshot.build(self.store)
                self._snapshot = snap
            return snap

    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        filters: SearchFilters | None = None,
        explain: bool = False,
        hybrid: bool = True,
    ) -> list[SearchResult]:
        if not isinstance(query, str) or not query.strip():
            return []
        if limit <= 0:
            return []
        filters = filters or SearchFilters()
        spec = compile_glob(filters.glob)
        snap = self.snapshot()
        if not snap.records:
            return []
        kind = classify_query(query)
        w_dense, w_lex = FUSION_WEIGHTS[kind]
        if not hybrid:
            w_lex = 0.0
        pool = max(CANDIDATES, limit * 5)

        fused: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}

        vector = self.query_encoder.encode_query(query)
        ids, sims = self.store.search_vectors(vector, pool)
        for rank, (cid, sim) in enumerate(zip(ids.tolist(), sims.tolist(), strict=True)):
            pos = snap.position.get(cid)
            if pos is None:
                continue  # added after the snapshot, or removed: skip until the next one
            fused[pos] = fused.get(pos, 0.0) + w_dense / (RRF_K + rank)
            parts.setdefault(pos, {})["dense"] = sim

        if w_lex > 0:
            term_ids = [snap.vocab_ids[t] for t in tokenize(query) if t in snap.vocab_ids]
            positions, scores = snap.lexical.top(term_ids, pool)
            for rank, (pos, score) in enumerate(
                zip(positions.tolist(), scores.tolist(), strict=True)
            ):
                fused[pos] = fused.get(pos, 0.0) + w_lex / (RRF_K + rank)
                parts.setdefault(pos, {})["lexical"] = score

        ranked = sorted(fused.items(), key=lambda item: -item[1])
        results: list[SearchResult] = []
        per_file: dict[str, int] = {}
        for pos, score in ranked:
            record = snap.records[pos]
            if not _passes(record, filters, spec):
                continue
            if per_file.get(record.path, 0) >= self.max_per_file:
                continue
            per_file[record.path] = per_file.get(record.path, 0) + 1
            comp = parts.get(pos, {}) if explain else {}
            if explain:
                comp = {**comp, "fused": score}
            results.append(_result(record, score, comp))
            if len(results) >= limit:
                break
        if len(results) < limit and (
            spec is not None or filters.languages or filters.exclude_tests
        ):
            results = self._fill_filtered(snap, vector, results, limit, filters, spec, per_file)
        return results

    def _fill_filtered(
        self,
        snap: Snapshot,
        vector: np.ndarray,
        results: list[SearchResult],
        limit: int,
        filters: SearchFilters,
        spec: pathspec.PathSpec | None,
        per_file: dict[str, int],
    ) -> list[SearchResult]:
        """Restrictive filters starve the candidate pool; scan the filtered subset exactly."""
        taken = {(r.path, r.start_line, r.end_line) for r in results}
        subset = [r for r in snap.records if _passes(r, filters, spec)][:50_000]
        if not subset:
            return results
        with self.store.lock:
            got = self.store.vectors.get(
                np.asarray([r.id for r in subset], np.uint64), dtype=np.float32
            )
        rows = [(r, v) for r, v in zip(subset, got, strict=True) if v is not None]
        if not rows:
            return results
        matrix = np.vstack([v for _, v in rows]).astype(np.float32)
        sims = matrix @ vector
        for i in np.argsort(-sims):
            record = rows[int(i)][0]
            key = (record.path, record.start_line, record.end_line)
            if key in taken or per_file.get(record.path, 0) >= self.max_per_file:
                continue
            per_file[record.path] = per_file.get(record.path, 0) + 1
            taken.add(key)
            # Scores from this scan are not comparable with fused scores; keep them below.
            results.append(_result(record, float(sims[i]) * 1e-3, {}))
            if len(results) >= limit:
                break
        return results


def _passes(record: ChunkRecord, filters: SearchFilters, spec: pathspec.PathSpec | None) -> bool:
    if filters.languages and record.language not in filters.languages:
        return False
    if filters.exclude_tests and is_test_path(record.path):
        return False
    return spec is None or spec.match_file(record.path)


def _result(record: ChunkRecord, score: float, explain: dict[str, float]) -> SearchResult:
    return SearchResult(
        path=record.path,
        start_line=record.start_line,
        end_line=record.end_line,
        symbol=record.symbol,
        kind=record.kind,
        language=record.language,
        score=score,
        preview=record.preview,
        explain=explain,
    )
