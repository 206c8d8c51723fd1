"""From a ranking to results: filters, the per-file cap, class results, and the exact scan
that fills a result list a restrictive filter has starved."""

from __future__ import annotations

import numpy as np
import pathspec

from codequest.discovery import is_test_path
from codequest.index.records import ChunkRecord
from codequest.index.view import StoreView
from codequest.search.options import Fusion
from codequest.search.query import ParsedQuery, SearchPlan
from codequest.search.scoring import Ranking
from codequest.search.snapshot import Snapshot
from codequest.types import ChunkKind, SearchFilters, SearchResult

# Rows of the filtered subset that the exact scan looks at, at most.
FILTERED_SCAN_LIMIT = 50_000
# Scores from the exact scan are not comparable with fused ones; scaled by this, they
# rank below every fused result.
FILTERED_SCORE_SCALE = 1e-3


def collect(
    snap: Snapshot, q: ParsedQuery, plan: SearchPlan, ranking: Ranking
) -> list[SearchResult]:
    """The best ``plan.limit`` results that pass the filters, at most ``max_per_file`` per
    file. For the query classes that ask for them, a split class whose members rank twice
    or more becomes one result spanning the class (up to ``class_max_lines`` lines)."""
    opts = plan.options
    filters, spec, limit = plan.filters, plan.spec, plan.limit
    max_per_file, explain = plan.max_per_file, plan.explain
    ranked, parts = ranking.ranked, ranking.parts
    promote_classes = (
        opts.class_results
        and opts.fusion is Fusion.WEIGHTED
        and q.kind in opts.class_result_queries
    )
    owners: dict[tuple[str, str], int] = {}
    if promote_classes:
        for pos, _ in ranked[: max(30, limit * 2)]:
            owner = snap.owners[pos]
            if owner is not None:
                owners[owner] = owners.get(owner, 0) + 1
    results: list[SearchResult] = []
    per_file: dict[str, int] = {}
    emitted_classes: set[tuple[str, str]] = set()
    for pos, score in ranked:
        record = snap.records[pos]
        if not passes(record, filters, spec):
            continue
        if per_file.get(record.path, 0) >= max_per_file:
            continue
        owner = snap.owners[pos] if promote_classes else None
        if owner is not None and owner in emitted_classes:
            continue  # covered by the class result already shown
        comp: dict[str, float] = {}
        if explain:
            comp = {**parts.get(pos, {}), "final": score, "query_" + q.kind: 1.0}
        if (
            owner is not None
            and owners.get(owner, 0) >= 2
            and snap.classes[owner][1] - snap.classes[owner][0] < opts.class_max_lines
        ):
            emitted_classes.add(owner)
            if explain:
                comp["class_members"] = float(owners[owner])
            results.append(class_result(snap, owner, record, score, comp))
        else:
            results.append(to_result(record, score, comp))
        per_file[record.path] = per_file.get(record.path, 0) + 1
        if len(results) >= limit:
            break
    return results


def class_result(
    snap: Snapshot,
    owner: tuple[str, str],
    member: ChunkRecord,
    score: float,
    explain: dict[str, float],
) -> SearchResult:
    """One result for a whole split class, in place of its best-ranked member."""
    start, end, head, last = snap.classes[owner]
    return SearchResult(
        path=member.path,
        start_line=start,
        end_line=end,
        symbol=owner[1],
        kind=ChunkKind.CLASS,
        language=member.language,
        score=score,
        preview=snap.records[head].preview,
        explain=explain,
        end_units=snap.records[last].end_units,
    )


def fill_filtered(
    store: StoreView,
    snap: Snapshot,
    plan: SearchPlan,
    vector: np.ndarray,
    results: list[SearchResult],
) -> list[SearchResult]:
    """Restrictive filters starve the candidate pool; scan the filtered subset exactly."""
    filters, spec, limit, max_per_file = plan.filters, plan.spec, plan.limit, plan.max_per_file
    per_file: dict[str, int] = {}
    for r in results:
        per_file[r.path] = per_file.get(r.path, 0) + 1
    taken = {(r.path, r.start_line, r.end_line) for r in results}
    subset = [r for r in snap.records if passes(r, filters, spec)][:FILTERED_SCAN_LIMIT]
    if not subset:
        return results
    found, matrix = store.vectors_of(np.asarray([r.id for r in subset], np.int64))
    rows = [r for r, hit in zip(subset, found.tolist(), strict=True) if hit]
    if not rows:
        return results
    sims = matrix @ vector
    for i in np.argsort(-sims):
        record = rows[int(i)]
        key = (record.path, record.start_line, record.end_line)
        if key in taken or per_file.get(record.path, 0) >= max_per_file:
            continue
        per_file[record.path] = per_file.get(record.path, 0) + 1
        taken.add(key)
        results.append(to_result(record, float(sims[i]) * FILTERED_SCORE_SCALE, {}))
        if len(results) >= limit:
            break
    return results


def passes(record: ChunkRecord, filters: SearchFilters, spec: pathspec.PathSpec | None) -> bool:
    """Whether a record passes a search's language, test and path filters."""
    if filters.languages and record.language not in filters.languages:
        return False
    if filters.exclude_tests and is_test_path(record.path):
        return False
    return spec is None or spec.match_file(record.path)


def to_result(record: ChunkRecord, score: float, explain: dict[str, float]) -> SearchResult:
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
        end_units=record.end_units,
    )
