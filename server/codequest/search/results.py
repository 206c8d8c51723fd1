"""From a ranking to results: filters, the per-file cap, class results, and the exact scan
that fills a result list a restrictive filter has starved."""

from __future__ import annotations

import numpy as np
import pathspec

from codequest.discovery import is_test_path
from codequest.index.records import ChunkRecord
from codequest.index.view import StoreView
from codequest.search.features import keyword_matches
from codequest.search.options import Fusion, RankingOptions
from codequest.search.query import ParsedQuery, SearchPlan
from codequest.search.scoring import Ranking
from codequest.search.snapshot import Snapshot
from codequest.tokens import split_identifier
from codequest.types import ChunkKind, DefinedName, SearchFilters, SearchResult

# Rows of the filtered subset that the exact scan looks at, at most.
FILTERED_SCAN_LIMIT = 50_000
# Scores from the exact scan are not comparable with fused ones; scaled by this, they
# rank below every fused result.
FILTERED_SCORE_SCALE = 1e-3


def collect(
    snap: Snapshot, q: ParsedQuery, plan: SearchPlan, ranking: Ranking
) -> list[SearchResult]:
    """The best ``plan.limit`` results that pass the filters, at most ``max_per_file`` per
    file, the n-th further result from one file with its score times ``decay ** n`` (so a
    file does not fill the page). For the query classes that ask for them, a split class
    whose members rank twice or more becomes one result spanning the class."""
    opts = plan.options
    owners = _class_owners(snap, q, plan, ranking) if _promotes_classes(opts, q) else None
    picked: list[tuple[float, int, SearchResult]] = []
    per_file: dict[str, int] = {}
    emitted_classes: set[tuple[str, str]] = set()
    floor = float("inf")  # the lowest picked score once the page is full
    for pos, score in ranking.ranked:
        if len(picked) >= plan.limit and score <= floor:
            break  # scores only fall from here, and decay only lowers them
        record = snap.records[pos]
        seen = per_file.get(record.path, 0)
        if seen >= plan.max_per_file or not passes(record, plan.filters, plan.spec):
            continue
        owner = snap.owners[pos] if owners is not None else None
        if owner is not None and owner in emitted_classes:
            continue  # covered by the class result already shown
        effective = score * opts.decay**seen if seen else score
        comp: dict[str, float] = {}
        if plan.explain:
            comp = {**ranking.parts.get(pos, {}), "final": effective, "query_" + q.kind: 1.0}
            comp["file_rank"] = float(seen)
        if owner is not None and owners is not None and _spans_class(snap, opts, owners, owner):
            emitted_classes.add(owner)
            if plan.explain:
                comp["class_members"] = float(owners[owner])
            result = class_result(snap, owner, record, effective, comp)
        else:
            result = to_result(record, effective, comp, q.names, q.keywords)
        picked.append((effective, len(picked), result))
        per_file[record.path] = seen + 1
        if len(picked) >= plan.limit:
            floor = min(p[0] for p in picked)
    picked.sort(key=lambda p: (-p[0], p[1]))
    return [result for _, _, result in picked[: plan.limit]]


def _promotes_classes(opts: RankingOptions, q: ParsedQuery) -> bool:
    return (
        opts.class_results
        and opts.fusion is Fusion.WEIGHTED
        and q.kind in opts.class_result_queries
    )


def _class_owners(
    snap: Snapshot, q: ParsedQuery, plan: SearchPlan, ranking: Ranking
) -> dict[tuple[str, str], int]:
    """How often each split class's members rank near the top."""
    owners: dict[tuple[str, str], int] = {}
    for pos, _ in ranking.ranked[: max(30, plan.limit * 2)]:
        owner = snap.owners[pos]
        if owner is not None:
            owners[owner] = owners.get(owner, 0) + 1
    return owners


def _spans_class(
    snap: Snapshot,
    opts: RankingOptions,
    owners: dict[tuple[str, str], int],
    owner: tuple[str, str],
) -> bool:
    start, end = snap.classes[owner][0], snap.classes[owner][1]
    return owners.get(owner, 0) >= 2 and end - start < opts.class_max_lines


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


def to_result(
    record: ChunkRecord,
    score: float,
    explain: dict[str, float],
    names: tuple[str, ...] = (),
    keywords: frozenset[str] = frozenset(),
) -> SearchResult:
    """A result for one chunk, named after one of the definitions in it (a chunk can hold
    several small ones): the one the query names, else the one whose name matches the most
    of the query's words (as the path boost matches them: ``slug`` finds ``slugify``), else
    the chunk's own symbol; ``line`` is where that definition starts."""
    symbol, kind = record.symbol, record.kind
    defined = (
        _named_definition(record, names, keywords)
        if names or len(record.defines or ()) > 1
        else None
    )
    if defined is not None:
        symbol, kind = defined.symbol, defined.kind
    else:
        defined = next(iter(record.defines or ()), None)
    line = defined.line if defined is not None else None
    if line is not None and not record.start_line < line <= record.end_line:
        line = None
    preview = defined.preview if defined is not None and defined.preview else record.preview
    return SearchResult(
        path=record.path,
        start_line=record.start_line,
        end_line=record.end_line,
        symbol=symbol,
        kind=kind,
        language=record.language,
        score=score,
        preview=preview,
        explain=explain,
        end_units=record.end_units,
        line=line,
    )


def _named_definition(
    record: ChunkRecord, names: tuple[str, ...], keywords: frozenset[str]
) -> DefinedName | None:
    for defined in record.defined_names if names else ():
        if defined.symbol.rsplit(".", 1)[-1] in names:
            return defined
    best, best_count = None, 0
    for defined in record.defined_names if keywords else ():
        parts = frozenset(p.lower() for p in split_identifier(defined.symbol.rsplit(".", 1)[-1]))
        count = keyword_matches(keywords, parts)
        if count > best_count:
            best, best_count = defined, count
    return best
