"""A search's candidate pool: dense neighbours, BM25's top and symbol-table matches.

:func:`lexical_side` is what a search knows before the query vector (it runs on the helper
thread while the query is encoded, :mod:`.helper`); :func:`dense_hits` asks the vector
index; :func:`gather` merges them into one pool with the exact dense similarity of every
candidate, for :func:`~.scoring.weighted`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codequest.index.view import StoreView
from codequest.search.options import Fusion, QueryClass
from codequest.search.query import ParsedQuery, SearchPlan, query_terms, understand
from codequest.search.snapshot import Snapshot
from codequest.search.symbols import stem_of, symbol_matches


@dataclass(frozen=True, slots=True)
class Vectors:
    """Candidate positions (sorted) and their stored vectors, row for row."""

    positions: np.ndarray
    matrix: np.ndarray


@dataclass(frozen=True, slots=True)
class LexicalSide:
    """What a search knows before the query vector: the parsed query and the BM25 and
    symbol-table candidates (with their vectors when they were fetched in advance)."""

    query: ParsedQuery
    lex_all: np.ndarray | None  # BM25 score of every position; None without lexical
    lex_top: np.ndarray  # the best BM25 positions, best first
    names: dict[int, float]  # symbol-table matches: position -> name similarity
    prefetched: Vectors | None
    # Chunks that define a name the query mentions: position -> tier (1, or 1.5 when the
    # file is named after it)
    defining: dict[int, float]
    # Those of them that join the pool even if no list found them: where the file is named
    # after the name (the rest only lift a candidate that is there anyway)
    joining: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DenseHits:
    """The vector index's nearest chunk ids and their cosine similarities, best first."""

    ids: np.ndarray
    sims: np.ndarray


NO_DENSE_HITS = DenseHits(np.zeros(0, np.int64), np.zeros(0, np.float32))


@dataclass(frozen=True, slots=True)
class Candidates:
    """The pool that weighted fusion scores, in a fixed order: dense neighbours first, then
    BM25's top, then symbol-table matches, each position once."""

    query: ParsedQuery
    positions: np.ndarray
    dense: np.ndarray  # exact cosine similarity, float32 (0 where no vector is known)
    lexical: np.ndarray  # BM25 score
    names: dict[int, float]  # symbol-table matches: position -> name similarity
    defining: dict[int, float]  # definitions of the query's names: position -> tier


def lexical_side(store: StoreView, snap: Snapshot, plan: SearchPlan, prefetch: bool) -> LexicalSide:
    """Query understanding, BM25 and symbol candidates; with ``prefetch``, also the
    candidates' stored vectors, so their exact similarity costs one product later."""
    opts = plan.options
    q = understand(plan.text, plan.filters)
    lex_all: np.ndarray | None = None
    lex_top = np.zeros(0, np.int64)
    names: dict[int, float] = {}
    if plan.use_lexical:
        lex_all = snap.lexical.scores_weighted(query_terms(snap.vocab_ids, q, opts.query_expansion))
        lex_top = snap.lexical.top_of(lex_all, plan.pool)
    if opts.symbol_match and q.kind is QueryClass.IDENTIFIER:
        names = symbol_matches(snap.symbols, q)
    defining: dict[int, float] = {}
    joining: tuple[int, ...] = ()
    if opts.definition_boost and q.names and opts.weights[q.kind].definition:
        loose = q.kind is not QueryClass.IDENTIFIER
        defining, joining = definitions_of(snap, q.names, loose=loose)
    prefetched = None
    if prefetch and opts.dense and opts.weights[q.kind].dense:
        extra = {**names, **dict.fromkeys(joining, 0.0)}
        prefetched = candidate_vectors(store, snap, lex_top, extra)
    return LexicalSide(q, lex_all, lex_top, names, prefetched, defining, joining)


# Definitions of one name taken into the pool, at most: a name defined everywhere (``get``,
# ``run``) says little about which one is meant, and the pool must stay small.
DEFINITIONS_PER_NAME = 40


def definitions_of(
    snap: Snapshot, names: tuple[str, ...], *, loose: bool
) -> tuple[dict[int, float], tuple[int, ...]]:
    """Chunks that define one of ``names`` (as written), with their tier
    (:attr:`~.symbols.SymbolTable.exact`; those in files named after the name first when a
    name is defined too often to take them all), and those that join the pool: where the
    file is named after the name, or with ``loose`` (a name inside a sentence) where the
    file's name, four letters or more, starts it (``StateManager`` in ``state.ts``)."""
    tiers: dict[int, float] = {}
    joining: dict[int, None] = {}
    for name in names:
        found = snap.symbols.exact.get(name)
        if found is None:
            continue
        lower = name.lower()
        positions, levels = found
        for pos, tier in zip(
            positions[:DEFINITIONS_PER_NAME].tolist(),
            levels[:DEFINITIONS_PER_NAME].tolist(),
            strict=True,
        ):
            tiers[pos] = max(tier, tiers.get(pos, 0.0))
            if tier > 1.0 or (loose and _starts_name(stem_of(snap.records[pos].path), lower)):
                joining[pos] = None
    return tiers, tuple(joining)


def _starts_name(stem: str, name: str) -> bool:
    joined = stem.replace("_", "")
    return any(len(s) >= 4 and name.startswith(s) for s in (stem, joined))


def candidate_vectors(
    store: StoreView, snap: Snapshot, lex_top: np.ndarray, names: dict[int, float]
) -> Vectors:
    """The stored vectors of these candidate positions, sorted by position."""
    wanted = np.unique(np.concatenate([lex_top, np.fromiter(names, np.int64, count=len(names))]))
    if not len(wanted):
        return Vectors(wanted, np.zeros((0, store.dim), np.float32))
    found, matrix = store.vectors_of(snap.ids[wanted])
    return Vectors(wanted[found], matrix)


def dense_hits(store: StoreView, plan: SearchPlan, vector: np.ndarray | None) -> DenseHits:
    """The dense neighbours of the query vector (none without one, or with dense off)."""
    opts = plan.options
    if not opts.dense or vector is None:
        return NO_DENSE_HITS
    # Rank fusion (the baselines) scores by rank in both full lists, so it keeps the whole
    # pool.
    count = (
        plan.pool
        if opts.dense_candidates is None or opts.fusion is Fusion.RRF
        else max(opts.dense_candidates, plan.limit * 2)
    )
    ids, sims = store.search_vectors(vector, count)
    return DenseHits(ids, sims)


def gather(
    store: StoreView,
    snap: Snapshot,
    plan: SearchPlan,
    vector: np.ndarray | None,
    dense: DenseHits,
    side: LexicalSide,
) -> Candidates | None:
    """One candidate pool with the exact dense similarity of every candidate (lexical and
    name-only ones included); None when there is no candidate at all."""
    opts = plan.options
    q = side.query
    names = side.names
    dense_pos, dense_sims = snap.positions_of(dense.ids, dense.sims)
    everything = np.concatenate(
        [
            dense_pos,
            side.lex_top,
            np.fromiter(names, np.int64, count=len(names)),
            np.fromiter(side.joining, np.int64, count=len(side.joining)),
        ]
    )
    if not len(everything):
        return None
    _, first = np.unique(everything, return_index=True)
    first.sort()
    positions = everything[first]
    n_dense = len(dense_pos)

    exact = np.zeros(len(positions), np.float32)
    exact[:n_dense] = dense_sims
    if (
        opts.dense
        and vector is not None
        and opts.weights[q.kind].dense
        and len(positions) > n_dense
    ):
        rest = positions[n_dense:]
        known = side.prefetched
        if known is None:
            known = candidate_vectors(store, snap, rest, {})
        # Every candidate past the dense ones came from lexical_top or names, so it is
        # among the fetched positions (sorted), unless its vector is missing.
        at = np.minimum(np.searchsorted(known.positions, rest), len(known.positions) - 1)
        hit = known.positions[at] == rest if len(known.positions) else np.zeros(len(rest), bool)
        if hit.any():
            exact[n_dense:][hit] = known.matrix[at[hit]] @ vector
    lex_all = side.lex_all
    lexical = lex_all[positions] if lex_all is not None else np.zeros(len(positions), np.float32)
    return Candidates(q, positions, exact, lexical, names, side.defining)
