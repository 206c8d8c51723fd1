"""Retrieval metrics, written once: NDCG, MRR and recall at a cut-off k.

The conventions are BEIR's (pytrec_eval): a document is relevant when its qrels score is
above 0, NDCG's gain is that score, and rank r is discounted by log2(r + 1). The
benchmarks and the distillation study both score with these functions, so a number in one
report means the same as in another.

:func:`ndcg_binary` is the primitive behind sets that mark hits themselves (stdlib-bench,
semble's real-repository annotations): the caller decides which ranks count as a hit (a
path match, a line overlap) and how many targets the ideal ranking holds.
:func:`ndcg_locations` is that decision for semble's annotations: ranked
``(path, start, end)`` results against ``(path, start, end)`` targets.

Standard library only: the engine imports nothing heavy for this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# A file location: a POSIX-style path, then the first and last line (1-based, inclusive),
# both None for the whole file.
Location = tuple[str, int | None, int | None]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed best rank first."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_binary(gains: Sequence[int], ideal: int, k: int = 10) -> float:
    """NDCG@k for 0/1 gains per rank, against an ideal ranking of ``ideal`` hits.

    0 when there is nothing to find (``ideal`` 0).
    """
    if ideal <= 0:
        return 0.0
    return dcg(gains[:k]) / dcg([1] * min(k, ideal))


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Graded NDCG@k: the gain of a document is its qrels score; the ideal is the qrels."""
    gains = [max(relevant.get(doc, 0), 0) for doc in ranking[:k]]
    ideal = sorted((rel for rel in relevant.values() if rel > 0), reverse=True)[:k]
    best = dcg(ideal)
    return dcg(gains) / best if best > 0 else 0.0


def mrr_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """1 / the rank of the first relevant document in the top k; 0 if there is none."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """The fraction of the relevant documents in the top k (the hit rate when there is one)."""
    wanted = {doc for doc, rel in relevant.items() if rel > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranking[:k])) / len(wanted)


def paths_match(result_path: str, target_path: str) -> bool:
    """semble's path rule: equal after ``\\`` -> ``/``, or one ends with ``/`` + the other.

    Both directions, so a result relative to a subfolder (or absolute) still matches a
    repository-relative target, and the other way round.
    """
    a = result_path.replace("\\", "/")
    b = target_path.replace("\\", "/")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def location_covers(result: Location, target: Location) -> bool:
    """Whether a result covers a target: the paths match and, when both carry lines, the
    result's lines overlap the target's (a result with a start but no end is one line)."""
    path, start, end = result
    target_path, target_start, target_end = target
    if not paths_match(path, target_path):
        return False
    if target_start is None or target_end is None or start is None:
        return True
    last = end if end is not None else start
    return not (last < target_start or start > target_end)


def ndcg_locations(results: Sequence[Location], targets: Sequence[Location], k: int = 10) -> float:
    """semble's NDCG@k over ranked locations.

    Every target marks the first result in the top k that covers it; a result marked by
    several targets counts once (0/1 gains). The ideal ranking holds min(k, targets) hits,
    targets no result could reach included. 0 when there are no targets.
    """
    top = results[:k]
    gains = [0] * len(top)
    for target in targets:
        for rank, result in enumerate(top):
            if location_covers(result, target):
                gains[rank] = 1
                break
    return ndcg_binary(gains, len(targets), k)
