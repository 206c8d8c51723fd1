"""Fusion: the candidates' features combined into one score each, best first.

:func:`weighted` is what ships: normalised dense and lexical scores, name and path
matches, a definition prior and a file-level aggregate, weighted by the query's class,
then demotions. :func:`rrf` is plain reciprocal-rank fusion, the no-ranking baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codequest.search import features
from codequest.search.candidates import Candidates, DenseHits, LexicalSide
from codequest.search.options import RRF_K
from codequest.search.query import SearchPlan
from codequest.search.snapshot import Snapshot

# Candidates whose score components are kept when a search is explained.
EXPLAINED = 200


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidates best first, as (position, score), and each one's score components
    (filled when the search is explained, and always by rank fusion)."""

    ranked: list[tuple[int, float]]
    parts: dict[int, dict[str, float]]


NOTHING = Ranking([], {})


def weighted(snap: Snapshot, plan: SearchPlan, cands: Candidates | None) -> Ranking:
    """Weighted fusion of normalised features (the shipped ranking)."""
    if cands is None:
        return NOTHING
    opts = plan.options
    q = cands.query
    w = opts.weights[q.kind]
    positions = cands.positions
    dense, lexical = cands.dense, cands.lexical

    # Dense and lexical scores normalised to 0..1 within the pool, then the rest.
    dense_n = features.minmax(dense) if opts.dense else dense
    lex_n = features.scaled_by_max(lexical)
    words = set(q.words)
    name = features.name_match(snap, q.kind, words, positions, cands.names, opts, w)
    path = features.path_match(snap, words, positions, opts, w)

    score = w.dense * dense_n + w.lexical * lex_n + w.name * name + w.path * path
    kind_bonus = features.definition_prior(snap, positions, opts.kind_prior)
    score = score + kind_bonus
    files = snap.file_of[positions]
    file_part = np.zeros(len(positions), np.float32)
    if opts.file_aggregation and w.file and len(positions) > 1:
        file_part = features.file_scores(files, score)
        score = score + w.file * file_part
    if opts.coherence_boost and w.coherence:
        score = features.coherence(files, score, w.coherence)
    # The boosts are shares of the best score so far, so they mean the same whatever the
    # scale of the features above.
    high = float(score.max()) if len(score) else 0.0
    tiers = np.zeros(len(positions), np.float32)
    if opts.definition_boost and w.definition and cands.defining:
        tiers = features.definition_tiers(positions, cands.defining)
        score = score + high * w.definition * tiers
    stem = np.zeros(len(positions), np.float32)
    if opts.stem_boost and w.stem and q.keywords:
        stem = features.stem_match(snap, q.keywords, positions)
        score = score + high * w.stem * stem
    named = np.zeros(len(positions), np.float32)
    if opts.named_file_boost and w.named_file and q.file_keys:
        named = features.named_file_match(snap, q.file_keys, positions)
        score = score + high * w.named_file * named
    demote = np.ones(len(positions), np.float32)
    if opts.demote:
        flags = snap.demoted[positions]
        demote = features.demotion_factors(flags, q.allowed_demotions, opts.demotion_factors)
        # A chunk defining a name the query names is what was asked for, test file or not.
        demote = np.where(tiers > 0, np.float32(1.0), demote)
        score = score * demote

    order = np.argsort(-score, kind="stable")
    ranked = list(zip(positions[order].tolist(), score[order].tolist(), strict=True))
    if not plan.explain:
        return Ranking(ranked, {})
    columns = {
        "dense": dense,
        "dense_norm": dense_n,
        "lexical": lexical,
        "lexical_norm": lex_n,
        "name": name,
        "path": path,
        "definition": kind_bonus,
        "file": file_part,
        "defines": tiers,
        "path_words": stem,
        "named_file": named,
        "demote": demote,
    }
    plist = positions.tolist()
    parts = {
        plist[i]: {key: float(column[i]) for key, column in columns.items()}
        for i in order[:EXPLAINED].tolist()
    }
    return Ranking(ranked, parts)


def rrf(snap: Snapshot, plan: SearchPlan, dense: DenseHits, side: LexicalSide) -> Ranking:
    """Reciprocal-rank fusion of the dense and lexical lists, weighted by the query class
    (or equally, with ``rrf_equal``)."""
    opts = plan.options
    w = opts.weights[side.query.kind]
    w_dense, w_lex = (1.0, 1.0) if opts.rrf_equal else (w.dense, w.lexical)
    fused: dict[int, float] = {}
    parts: dict[int, dict[str, float]] = {}
    # Ranks count every neighbour, including ids the snapshot does not have yet.
    positions, ranks = snap.positions_of(dense.ids, np.arange(len(dense.ids)))
    for pos, rank in zip(positions.tolist(), ranks.tolist(), strict=True):
        fused[pos] = fused.get(pos, 0.0) + w_dense / (RRF_K + rank)
        parts.setdefault(pos, {})["dense"] = float(dense.sims[rank])
    lex_all = side.lex_all
    if lex_all is not None:
        for rank, pos in enumerate(side.lex_top.tolist()):
            fused[pos] = fused.get(pos, 0.0) + w_lex / (RRF_K + rank)
            parts.setdefault(pos, {})["lexical"] = float(lex_all[pos])
    return Ranking(sorted(fused.items(), key=lambda item: -item[1]), parts)
