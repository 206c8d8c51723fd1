"""The symbol table: definition names for exact, subword, prefix and fuzzy lookup.

Identifier queries take candidates from it (:func:`symbol_matches`) besides the dense and
BM25 lists; natural-language queries use its stemmed name words for the name feature.
"""

from __future__ import annotations

import bisect
import difflib
from dataclasses import dataclass

import numpy as np

from codequest.index.records import ChunkRecord
from codequest.search.query import ParsedQuery
from codequest.tokens import normalize_symbol, split_identifier, stem


@dataclass(frozen=True, slots=True)
class SymbolTable:
    """Definition names for fast exact, subword, prefix and fuzzy lookup.

    Names are normalised with :func:`normalize_symbol` (case and ``_`` ignored), so
    ``assert_almost_equal`` finds ``assertAlmostEqual`` and ``iterdump`` finds ``_iterdump``.
    """

    full: dict[str, list[int]]  # "condition.waitfor" -> positions
    last: dict[str, list[int]]  # "waitfor" -> positions
    parts: dict[str, tuple[str, ...]]  # "waitfor" -> ("wait", "for")
    subwords: dict[str, list[str]]  # "wait" -> last names holding that part
    sorted_subwords: list[str]
    name_id: np.ndarray  # int32 per position: index into ``words``, -1 without a name
    words: list[tuple[str, ...]]  # stemmed words of each distinct last name
    # "wait_for" (as written) -> the positions that define it and their tier as a
    # definition: 1.5 where the file is named after the name (``Builder`` in
    # ``builder.rb``), else 1; the stronger tier first
    exact: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def build(cls, records: tuple[ChunkRecord, ...]) -> SymbolTable:
        """The names each record defines (``ChunkRecord.defined_names``)."""
        full: dict[str, list[int]] = {}
        last: dict[str, list[int]] = {}
        exact: dict[str, list[tuple[float, int]]] = {}
        stems: dict[str, str] = {}
        parts: dict[str, tuple[str, ...]] = {}
        ids: dict[str, int] = {}
        words: list[tuple[str, ...]] = []
        name_id = np.full(len(records), -1, dtype=np.int32)
        for pos, record in enumerate(records):
            for defined in record.defined_names:
                symbol = defined.symbol
                pieces = [normalize_symbol(p) for p in symbol.split(".")]
                full.setdefault(".".join(pieces), []).append(pos)
                tail = symbol.rsplit(".", 1)[-1]
                file_stem = stems.get(record.path)
                if file_stem is None:
                    file_stem = stems[record.path] = stem_of(record.path)
                tier = 1.5 if stem_names(file_stem, tail.lower()) else 1.0
                exact.setdefault(tail, []).append((tier, pos))
                key = pieces[-1]
                if key not in last:
                    last[key] = []
                    parts[key] = split_identifier(tail)
                    ids[key] = len(words)
                    words.append(tuple(stem(w) for w in parts[key] if len(w) > 1))
                last[key].append(pos)
                if name_id[pos] < 0:
                    name_id[pos] = ids[key]
        subwords: dict[str, list[str]] = {}
        for key, split in parts.items():
            for word in set(split) | {key}:
                subwords.setdefault(word, []).append(key)
        return cls(full, last, parts, subwords, sorted(subwords), name_id, words, _by_tier(exact))

    def shortlist(self, words: tuple[str, ...], key: str, cap: int = 400) -> list[str]:
        """Names sharing a subword (or a prefix of one, 3+ letters) with the query."""
        seen: dict[str, None] = {}
        lists: list[list[str]] = []
        for word in set(words) | {key}:
            if not word:
                continue
            if len(word) >= 3:
                lo = bisect.bisect_left(self.sorted_subwords, word)
                hi = bisect.bisect_left(self.sorted_subwords, word + "\uffff", lo)
                for sub in self.sorted_subwords[lo : min(hi, lo + 50)]:
                    lists.append(self.subwords[sub])
            elif word in self.subwords:
                lists.append(self.subwords[word])
        # Rare subwords first: they say the most about which name was meant.
        for names in sorted(lists, key=len):
            for name in names:
                seen.setdefault(name, None)
                if len(seen) >= cap:
                    return list(seen)
        return list(seen)


def _by_tier(
    exact: dict[str, list[tuple[float, int]]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, found in exact.items():
        found.sort(key=lambda item: -item[0])
        out[name] = (
            np.fromiter((p for _, p in found), np.int64, len(found)),
            np.fromiter((t for t, _ in found), np.float32, len(found)),
        )
    return out


def stem_of(path: str) -> str:
    """``src/flask/sessions.py`` -> ``sessions`` (lower case)."""
    name = path.rsplit("/", 1)[-1]
    dot = name.find(".", 1)
    return (name[:dot] if dot > 0 else name).lower()


def file_key(path: str) -> str:
    """What a file is named, for matching with a query's words: ``src/Column.kt`` ->
    ``column``, ``lib/http_proxy.c`` -> ``httpproxy``."""
    return stem_of(path).replace("_", "").replace("-", "")


def stem_names(stem: str, name: str) -> bool:
    """Whether a file stem is named after ``name`` (both lower case): ``builder`` or
    ``builders`` for ``builder``, ``type_map`` for ``typemap``."""
    joined = stem.replace("_", "")
    return name in (stem, joined, stem.rstrip("s"), joined.rstrip("s"))


def name_similarity(
    query_key: str,
    query_parts: tuple[str, ...],
    key: str,
    parts: tuple[str, ...],
    matcher: difflib.SequenceMatcher[str] | None = None,
) -> float:
    """How well a normalised name matches the query's name, 0..1 (1 = same name).

    ``matcher``, if given, must already hold ``query_key`` as its second sequence (difflib
    caches that side), which makes scoring a shortlist cheap.
    """
    if key == query_key:
        return 1.0
    shared = 0
    for qp in query_parts:
        for p in parts:
            if qp == p or (min(len(qp), len(p)) >= 3 and (p.startswith(qp) or qp.startswith(p))):
                shared += 1
                break
    dice = 2.0 * shared / (len(query_parts) + len(parts)) if parts and query_parts else 0.0
    contain = 0.0
    if min(len(query_key), len(key)) >= 4 and (query_key in key or key in query_key):
        contain = min(len(query_key), len(key)) / max(len(query_key), len(key))
    best = max(dice, contain)
    if best < 0.9:
        if matcher is None:
            matcher = difflib.SequenceMatcher(None, autojunk=False)
            matcher.set_seq2(query_key)
        matcher.set_seq1(key)
        # The cheap upper bounds first: most shortlisted names are nowhere near, and a ratio
        # under 0.56 (a final score under 0.5) is never used.
        floor = max(best, 0.56)
        if matcher.real_quick_ratio() > floor and matcher.quick_ratio() > floor:
            best = max(best, matcher.ratio())
    return 0.9 * best


def symbol_matches(table: SymbolTable, q: ParsedQuery) -> dict[int, float]:
    """Positions of definitions whose name matches the query name, with a 0..1 score."""
    out: dict[int, float] = {}
    if q.qualifier:
        for pos in table.full.get(q.qualifier, ()):
            out[pos] = 1.0
    for pos in table.last.get(q.name_key, ()):
        out.setdefault(pos, 0.95 if q.qualifier else 1.0)
    shortlist = table.shortlist(q.name_parts, q.name_key)
    scored: list[tuple[float, str]] = []
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(q.name_key)
    for key in shortlist:
        if key == q.name_key:
            continue
        sim = name_similarity(q.name_key, q.name_parts, key, table.parts[key], matcher)
        if sim >= 0.5:
            scored.append((sim, key))
    scored.sort(reverse=True)
    for sim, key in scored[:20]:
        for pos in table.last[key][:10]:
            if len(out) >= 60:
                return out
            out.setdefault(pos, sim)
    return out
