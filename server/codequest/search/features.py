"""Per-candidate features for weighted fusion, each a pure function over explicit arrays.

Every feature is a float array with one value per candidate, in 0..1 unless said
otherwise; :func:`~.scoring.weighted` combines them with the query class's weights.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

import numpy as np

from codequest.search.options import Demotion, FusionWeights, QueryClass, RankingOptions
from codequest.search.snapshot import Snapshot
from codequest.search.symbols import SymbolTable

# Every demotion flag, as the plain int the snapshot stores and as the flag.
_DEMOTIONS = tuple((int(d), d) for d in Demotion if d is not Demotion.NONE)
# A path boost needs this share of the query's keywords in the file's or folder's name.
STEM_MIN_SHARE = 0.1


def minmax(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to 0..1 within the pool (all ones when they are equal and positive)."""
    if len(values) == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


def scaled_by_max(values: np.ndarray) -> np.ndarray:
    """``values`` divided by their maximum (BM25 scores are >= 0), unchanged when all zero."""
    high = float(values.max()) if len(values) else 0.0
    return values / high if high > 0 else values


def name_match(
    snap: Snapshot,
    kind: QueryClass,
    words: set[str],
    positions: np.ndarray,
    names: dict[int, float],
    options: RankingOptions,
    weights: FusionWeights,
) -> np.ndarray:
    """How well each candidate's name matches: the symbol-table similarity for identifier
    queries, else the share of its name's words the query mentions."""
    if options.symbol_match and options.name_feature and weights.name:
        if kind is QueryClass.IDENTIFIER:
            return np.fromiter(
                (names.get(p, 0.0) for p in positions.tolist()), np.float32, len(positions)
            )
        if words:
            return name_coverage(snap.symbols, positions, words)
    return np.zeros(len(positions), np.float32)


def name_coverage(symbols: SymbolTable, positions: np.ndarray, qwords: set[str]) -> np.ndarray:
    """Share of a definition name's words that the query mentions (stemmed, prefix-aware)."""
    words_of = symbols.words
    # A name word counts when it is a query word or a 3+ letter prefix of one.
    known = set(qwords)
    for x in qwords:
        known.update(x[:i] for i in range(3, len(x)))
    # One computation per distinct name, not per chunk.
    uniq, inverse = np.unique(symbols.name_id[positions], return_inverse=True)
    values = np.zeros(len(uniq), np.float32)
    for j, nid in enumerate(uniq.tolist()):
        if nid >= 0:
            words = words_of[nid]
            if words:
                values[j] = sum(1 for w in words if w in known) / len(words)
    return values[inverse.reshape(-1)]


def path_match(
    snap: Snapshot,
    words: set[str],
    positions: np.ndarray,
    options: RankingOptions,
    weights: FusionWeights,
) -> np.ndarray:
    """Share of the query's words that each candidate's file path holds."""
    if options.path_feature and words and weights.path:
        files = snap.file_of[positions]
        cover = {f: len(words & snap.file_words[f]) / len(words) for f in set(files.tolist())}
        return np.fromiter((cover[f] for f in files.tolist()), np.float32, len(positions))
    return np.zeros(len(positions), np.float32)


def definition_prior(snap: Snapshot, positions: np.ndarray, prior: float) -> np.ndarray:
    """``prior`` for definitions, 0 for windows."""
    return prior * snap.is_definition[positions]


def file_scores(files: np.ndarray, score: np.ndarray) -> np.ndarray:
    """A file's strength: its best chunk plus half its second best, normalised to 0..1."""
    order = np.lexsort((-score, files))
    f_sorted, s_sorted = files[order], score[order]
    first = np.flatnonzero(np.r_[True, f_sorted[1:] != f_sorted[:-1]])
    nxt = np.minimum(first + 1, len(f_sorted) - 1)
    has_second = (nxt != first) & (f_sorted[nxt] == f_sorted[first])
    value = s_sorted[first] + 0.5 * np.where(has_second, s_sorted[nxt], 0.0)
    per_chunk = value[np.searchsorted(f_sorted[first], files)]
    high = float(value.max())
    return (per_chunk / high if high > 0 else per_chunk).astype(np.float32)


def demotion_factors(
    flags: np.ndarray, allowed: frozenset[Demotion], factors: Mapping[Demotion, float]
) -> np.ndarray:
    """Per candidate, the product of the factors of its file's demotions that the query
    does not lift (1 for a file with none)."""
    demote = np.ones(len(flags), np.float32)
    for flag, demotion in _DEMOTIONS:
        factor = factors.get(demotion, 1.0)
        if factor != 1.0 and demotion not in allowed:
            demote[(flags & flag) != 0] *= factor
    return demote


def coherence(files: np.ndarray, score: np.ndarray, share: float) -> np.ndarray:
    """``score`` with each file's best chunk raised by ``share`` of the best score, in
    proportion to the file's summed score: several good chunks in one file are evidence
    that the file is what the query is about."""
    high = float(score.max()) if len(score) else 0.0
    if high <= 0:
        return score
    sums = np.bincount(files, weights=score)
    order = np.lexsort((-score, files))
    firsts = order[np.r_[True, files[order][1:] != files[order][:-1]]]
    out = score.copy()
    out[firsts] += high * share * sums[files[firsts]] / float(sums.max())
    return out


def definition_tiers(positions: np.ndarray, defining: dict[int, float]) -> np.ndarray:
    """Per candidate, its tier as a definition of a name the query mentions (0 if not)."""
    if not defining:
        return np.zeros(len(positions), np.float32)
    return np.fromiter((defining.get(p, 0.0) for p in positions.tolist()), np.float32)


def named_file_match(
    snap: Snapshot, file_keys: frozenset[str], positions: np.ndarray
) -> np.ndarray:
    """1 for a candidate whose file is named after the query's words (``Column.kt`` for
    "column definition"), else 0."""
    named = snap.files_named(file_keys)
    if not len(named) or not len(positions):
        return np.zeros(len(positions), np.float32)
    files = np.zeros(len(snap.file_paths), np.float32)
    files[named] = 1.0
    return files[snap.file_of[positions]]


def stem_match(snap: Snapshot, keywords: frozenset[str], positions: np.ndarray) -> np.ndarray:
    """Per candidate, the share of the query's keywords found in its file's or folder's
    name (:func:`keyword_matches` says when they match: so ``config`` finds
    ``configuration``); 0 below :data:`STEM_MIN_SHARE`. Each keyword's matching words are
    found once, in the snapshot's sorted name words; the candidates' files are then
    checked in one array operation per keyword."""
    if not keywords or not len(positions):
        return np.zeros(len(positions), np.float32)
    files, inverse = np.unique(snap.file_of[positions], return_inverse=True)
    starts = snap.file_word_offsets[files]
    lengths = snap.file_word_offsets[files + 1] - starts
    owner = np.repeat(np.arange(len(files)), lengths)
    first = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    word_ids = snap.file_word_ids[first + np.arange(len(owner))]
    found = np.zeros(len(files), np.float32)
    marked = np.zeros(len(snap.path_words), bool)
    for keyword in keywords:
        spans = matching_words(snap.path_words, keyword)
        if not spans:
            continue
        marked[:] = False
        for lo, hi in spans:
            marked[lo:hi] = True
        found += np.bincount(owner[marked[word_ids]], minlength=len(files)) > 0
    share = found[inverse.reshape(-1)] / len(keywords)
    share[share < STEM_MIN_SHARE] = 0.0
    return share


def matching_words(words: tuple[str, ...], keyword: str) -> list[tuple[int, int]]:
    """Index ranges of the sorted ``words`` that match ``keyword`` as
    :func:`keyword_matches` says: the words it starts (3+ letters), and the words of 3+
    letters that start it."""
    found: list[tuple[int, int]] = []
    if len(keyword) >= 3:
        lo = bisect.bisect_left(words, keyword)
        found.append((lo, bisect.bisect_left(words, keyword + "\uffff", lo)))
    else:
        at = bisect.bisect_left(words, keyword)
        if at < len(words) and words[at] == keyword:
            found.append((at, at + 1))
    for length in range(3, len(keyword)):
        at = bisect.bisect_left(words, keyword[:length])
        if at < len(words) and words[at] == keyword[:length]:
            found.append((at, at + 1))
    return [(lo, hi) for lo, hi in found if hi > lo]


def keyword_matches(keywords: frozenset[str], parts: frozenset[str]) -> int:
    """How many keywords match a name word: equal, or one a prefix of the other (3+).
    The definition :func:`stem_match` implements with an inverted index."""
    exact = keywords & parts
    count = len(exact)
    for keyword in keywords - exact:
        for part in parts:
            short, long = (keyword, part) if len(keyword) <= len(part) else (part, keyword)
            if len(short) >= 3 and long.startswith(short):
                count += 1
                break
    return count
