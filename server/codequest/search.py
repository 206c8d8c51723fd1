"""Hybrid retrieval and ranking over a :class:`~codequest.store_view.StoreView`.

Three steps per query, none of them a model call except the query embedding:

1. **Query understanding** (:func:`classify_query`): an identifier (``JSONDecodeError``,
   ``Condition.wait_for``), natural language ("parse an email address into name and
   address"), or a how/where question about a subsystem.
2. **Candidates**: dense neighbours, BM25 over identifier parts (query words expanded with
   their inflections), and, for identifiers, the snapshot's symbol table (exact,
   camelCase/snake_case-insensitive, prefix/subword and fuzzy name matches).
3. **Ranking**: every candidate gets exact dense and lexical scores, a name-match score,
   a path score and a definition prior; these are combined with weights that depend on the
   query class (:data:`DEFAULT_WEIGHTS`, chosen on data, see ``docs/ranking.md``). Questions
   also get a file-level aggregate and class-level results. Tests, examples, vendored and
   generated code are demoted unless the query asks for them.

Every stage can be switched off through :class:`RankingOptions`, which is how the
ablation rows of ``benchmarks/ranking.py`` are produced. No torch here.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pathspec

from codequest.config import Config
from codequest.discovery import is_example_path, is_test_path, is_vendored_or_generated
from codequest.encoders import BasicQueryEncoder, declared
from codequest.errors import InvalidQuery
from codequest.index.lexical import LexicalIndex
from codequest.index.records import ChunkRecord
from codequest.index.view import StoreView
from codequest.placement import HelperPlacement
from codequest.tokens import (
    normalize_symbol,
    query_words,
    split_identifier,
    stem,
    tokenize,
    variants,
)
from codequest.types import DEFINITION_KINDS, ChunkKind, SearchFilters, SearchResult

RRF_K = 60
CANDIDATES = 100
# Dense neighbours per query. 30, 40, 50 and 100 gave the same NDCG@10 to four decimals on
# stdlib-bench, CoSQA dev and csn-maxmin-python/java/javascript/go (commit 0e6795a): a
# chunk past the 40th dense neighbour that BM25 did not also find never reached the top 10
# (BM25 and symbol candidates keep their exact dense similarity). Fewer
# neighbours let the HNSW search use a smaller breadth (codequest.store.EXPANSION_SEARCH).
DENSE_CANDIDATES = 40
# A snapshot older than this is rebuilt while the store keeps changing (indexing).
SNAPSHOT_MAX_AGE = 1.0

QUERY_IDENTIFIER = "identifier"
QUERY_NATURAL = "natural"
QUERY_QUESTION = "question"
QUERY_CLASSES = (QUERY_IDENTIFIER, QUERY_NATURAL, QUERY_QUESTION)

_IDENT = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)*(?:\(\))?$")
_QUESTION_START = re.compile(
    r"^(how|where|what|why|which|who|when|explain|describe|overview)\b", re.IGNORECASE
)
# "How to X" asks for code that does X (a semantic query), not how this codebase works.
_TASK_START = re.compile(
    r"^(how\s+(to|do\s+(i|you|we)|can\s+(i|you|we)|should\s+(i|we)|would\s+(i|you))|"
    r"what\s+can)\b",
    re.IGNORECASE,
)
_QUALIFIER = re.compile(r"\.|::|#|->")
_CODE_WORD = re.compile(r"[a-z][A-Z]|_|\.|::")
_WANTS_TESTS = re.compile(r"\b(tests?|testing|spec|specs|fixtures?|mocks?)\b", re.IGNORECASE)
_WANTS_EXAMPLES = re.compile(r"\b(examples?|samples?|demos?)\b", re.IGNORECASE)
_WANTS_VENDORED = re.compile(r"\b(vendor(ed)?|third[ _-]?party|generated|node_modules)\b", re.I)


def classify_query(query: str) -> str:
    """Cheap query understanding, no model call: identifier, question or natural language.

    * identifier: one token that is a (possibly qualified) name: ``make_archive``,
      ``Condition.wait_for``, ``fmt::format``, ``parseHTTP()``; also two or three tokens
      that all look like code (``Popen communicate`` stays natural language, ``Popen.wait
      timeout_s`` is an identifier query).
    * question: starts with how/where/what/why/which/... or ends with ``?``, except task
      requests ("how to read a csv file", "how do I ..."), which are natural language.
    * natural: everything else.
    """
    text = query.strip()
    words = text.split()
    if not words:
        return QUERY_NATURAL
    if len(words) == 1 and _IDENT.match(text):
        return QUERY_IDENTIFIER
    if _TASK_START.match(text):
        return QUERY_NATURAL
    if _QUESTION_START.match(text) or text.endswith("?"):
        return QUERY_QUESTION
    if len(words) <= 3 and all(_IDENT.match(w) and _CODE_WORD.search(w) for w in words):
        return QUERY_IDENTIFIER
    return QUERY_NATURAL


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionWeights:
    """How much each normalised feature (all in 0..1) adds to a candidate's score."""

    dense: float
    lexical: float
    name: float
    path: float
    file: float = 0.0


# Chosen on data (docs/ranking.md): per query class, the best point of a 144-point grid on
# stdlib-bench (document recipe 2, per-file cap 10), with 5-fold cross-validation giving the
# held-out estimate. The natural-language lexical weight is then picked on CoSQA dev (0.1 of
# 0.05/0.1/0.15/0.2: web-style task queries want little keyword weight).
DEFAULT_WEIGHTS: Mapping[str, FusionWeights] = {
    QUERY_IDENTIFIER: FusionWeights(dense=1.0, lexical=1.0, name=0.5, path=0.3, file=0.3),
    QUERY_NATURAL: FusionWeights(dense=0.5, lexical=0.1, name=0.0, path=0.0, file=0.3),
    QUERY_QUESTION: FusionWeights(dense=0.5, lexical=0.2, name=0.0, path=0.1, file=0.3),
}


@dataclass(frozen=True, kw_only=True)
class RankingOptions:
    """Switches and weights for ranking; the defaults are what ships.

    ``fusion="rrf"`` reproduces plain reciprocal-rank fusion of the dense and lexical lists
    (weights ``dense``/``lexical`` only), the "retrieval without ranking" baseline.
    """

    dense: bool = True
    lexical: bool = True
    fusion: str = "weighted"  # "weighted" | "rrf"
    rrf_equal: bool = False  # rrf with weight 1 for both lists
    query_expansion: bool = True
    symbol_match: bool = True  # symbol-table candidates and the name feature
    name_feature: bool = True
    path_feature: bool = True
    kind_prior: float = 0.1  # added for definitions, 0 turns it off
    file_aggregation: bool = True
    class_results: bool = True
    class_max_lines: int = 400  # larger classes stay as member chunks (no whole-file spans)
    class_result_queries: tuple[str, ...] = (QUERY_QUESTION,)
    demote: bool = True
    demote_factor: float = 0.5
    candidates: int = CANDIDATES
    # Dense neighbours asked of the vector index (at least twice the limit); None: as
    # many as ``candidates``. Lexical and name candidates outside them still get their exact
    # dense similarity.
    dense_candidates: int | None = DENSE_CANDIDATES
    max_per_file: int | None = None  # None: the searcher's setting
    weights: Mapping[str, FusionWeights] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        if self.fusion not in ("weighted", "rrf"):
            raise ValueError(f"unknown fusion {self.fusion!r}; expected 'weighted' or 'rrf'")
        missing = [k for k in QUERY_CLASSES if k not in self.weights]
        if missing:
            raise ValueError(f"weights lack query classes {missing}")


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
    name_id: np.ndarray  # int32 per position: index into ``words``, -1 without a symbol
    words: list[tuple[str, ...]]  # stemmed words of each distinct last name

    @classmethod
    def build(cls, records: tuple[ChunkRecord, ...]) -> SymbolTable:
        full: dict[str, list[int]] = {}
        last: dict[str, list[int]] = {}
        parts: dict[str, tuple[str, ...]] = {}
        ids: dict[str, int] = {}
        words: list[tuple[str, ...]] = []
        name_id = np.full(len(records), -1, dtype=np.int32)
        for pos, record in enumerate(records):
            if not record.symbol:
                continue
            pieces = [normalize_symbol(p) for p in record.symbol.split(".")]
            full.setdefault(".".join(pieces), []).append(pos)
            tail = record.symbol.rsplit(".", 1)[-1]
            key = pieces[-1]
            if key not in last:
                last[key] = []
                parts[key] = split_identifier(tail)
                ids[key] = len(words)
                words.append(tuple(stem(w) for w in parts[key] if len(w) > 1))
            last[key].append(pos)
            name_id[pos] = ids[key]
        subwords: dict[str, list[str]] = {}
        for key, split in parts.items():
            for word in set(split) | {key}:
                subwords.setdefault(word, []).append(key)
        return cls(full, last, parts, subwords, sorted(subwords), name_id, words)

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


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable view for queries, rebuilt when the store changes (never per query)."""

    version: int
    built_at: float
    ids: np.ndarray  # position -> chunk id
    records: tuple[ChunkRecord, ...]
    lexical: LexicalIndex
    vocab_ids: dict[str, int]
    symbols: SymbolTable
    is_definition: np.ndarray  # bool per position
    demoted: np.ndarray  # int8 per position: 0 none, 1 test, 2 example, 3 vendored/generated
    file_of: np.ndarray  # int32 per position -> index into file_paths
    file_paths: tuple[str, ...]
    file_words: tuple[frozenset[str], ...]  # stemmed path words per file
    # (path, class) -> first line, last line, header position, position of the last chunk
    classes: dict[tuple[str, str], tuple[int, int, int, int]]
    owners: tuple[tuple[str, str] | None, ...]  # position -> its split class, if any
    id_order: np.ndarray  # positions sorted by chunk id, for vectorised id -> position
    sorted_ids: np.ndarray  # ids[id_order]
    # chunk id -> position (-1: none), when ids are dense enough for a table; one gather
    # instead of a binary search over 100k ids, whose cache misses cost 0.1 ms a query
    position_table: np.ndarray | None

    def positions_of(
        self, chunk_ids: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``chunk_ids`` with their ``values``, dropping ids this snapshot lacks
        (chunks added since it was built)."""
        if not len(chunk_ids) or not len(self.ids):
            return np.zeros(0, np.int64), values[:0]
        table = self.position_table
        if table is not None:
            inside = (chunk_ids >= 0) & (chunk_ids < len(table))
            at = table[np.where(inside, chunk_ids, 0)]
            found = inside & (at >= 0)
            return at[found].astype(np.int64), values[found]
        sorted_ids = self.sorted_ids
        at = np.minimum(np.searchsorted(sorted_ids, chunk_ids), len(sorted_ids) - 1)
        found = sorted_ids[at] == chunk_ids
        return self.id_order[at[found]], values[found]

    @classmethod
    def build(cls, store: StoreView) -> Snapshot:
        tables = store.lexical_tables()
        version, records, vocab_ids = tables.version, tables.records, tables.vocab_ids
        ids = np.fromiter((r.id for r in records), dtype=np.int64, count=len(records))
        lexical = LexicalIndex.build(tables.terms, tables.vocab_size)
        is_definition = np.fromiter(
            (r.kind in DEFINITION_KINDS for r in records), dtype=bool, count=len(records)
        )
        file_index: dict[str, int] = {}
        file_of = np.fromiter(
            (file_index.setdefault(r.path, len(file_index)) for r in records),
            dtype=np.int32,
            count=len(records),
        )
        file_paths = tuple(file_index)
        file_words = tuple(frozenset(query_words(p.rsplit(".", 1)[0])) for p in file_paths)
        file_demotion = [_demotion(p) for p in file_paths]
        demoted = np.asarray([file_demotion[f] for f in file_of.tolist()], dtype=np.int8)
        classes = _class_extents(records)
        owners = tuple(_owner_of(r, classes) for r in records)
        id_order = np.argsort(ids, kind="stable")
        return cls(
            version,
            time.monotonic(),
            ids,
            records,
            lexical,
            vocab_ids,
            SymbolTable.build(records),
            is_definition,
            demoted,
            file_of,
            file_paths,
            file_words,
            classes,
            owners,
            id_order,
            ids[id_order],
            _position_table(ids),
        )


# A table costs 4 bytes per id up to the largest; ids grow with re-indexing, so past this
# much slack per chunk the binary search is used instead.
POSITION_TABLE_SLACK = 8


def _position_table(ids: np.ndarray) -> np.ndarray | None:
    if not len(ids) or int(ids.min()) < 0:
        return None
    top = int(ids.max())
    if top >= POSITION_TABLE_SLACK * len(ids) + 1024:
        return None
    table = np.full(top + 1, -1, np.int32)
    table[ids] = np.arange(len(ids), dtype=np.int32)
    return table


def _demotion(path: str) -> int:
    if is_test_path(path):
        return 1
    if is_example_path(path):
        return 2
    if is_vendored_or_generated(path):
        return 3
    return 0


def _class_extents(
    records: tuple[ChunkRecord, ...],
) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Every class that was split into a header chunk and member chunks: its first line,
    last line, the header's position and the position of the chunk that ends it."""
    extents: dict[tuple[str, str], tuple[int, int, int, int]] = {}

    def widen(key: tuple[str, str], pos: int, r: ChunkRecord, head: int | None) -> None:
        old = extents.get(key)
        if old is None:
            if head is not None:
                extents[key] = (r.start_line, r.end_line, head, pos)
            return
        last = pos if r.end_line > old[1] else old[3]
        extents[key] = (min(old[0], r.start_line), max(old[1], r.end_line), old[2], last)

    for pos, r in enumerate(records):
        if r.kind == ChunkKind.CLASS and r.symbol:
            widen((r.path, r.symbol), pos, r, pos)
    for pos, r in enumerate(records):
        if "." in r.symbol and r.kind != ChunkKind.WINDOW:
            widen((r.path, r.symbol.rsplit(".", 1)[0]), pos, r, None)
    return extents


def compile_glob(glob: str | None) -> pathspec.PathSpec | None:
    if not glob:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines([glob])
    except Exception as err:  # noqa: BLE001 - pathspec raises several types for bad patterns
        raise InvalidQuery(f"invalid glob {glob!r}: {err}") from err


@dataclass(slots=True)
class _Query:
    text: str
    kind: str
    words: list[str]  # stemmed content words
    name_key: str  # normalised last name (identifier queries)
    name_parts: tuple[str, ...]
    qualifier: str  # normalised qualified name, "" if unqualified
    allowed_demotions: frozenset[int]


def _understand(query: str, filters: SearchFilters) -> _Query:
    kind = classify_query(query)
    text = query.strip().removesuffix("()")
    name_key, qualifier = "", ""
    name_parts: tuple[str, ...] = ()
    if kind == QUERY_IDENTIFIER:
        first = text.split()[0]
        pieces = [p for p in _QUALIFIER.split(first) if p]
        tail = pieces[-1] if pieces else first
        name_key = normalize_symbol(tail)
        name_parts = split_identifier(tail)
        if len(pieces) > 1:
            qualifier = ".".join(normalize_symbol(p) for p in pieces)
    allowed = set()
    if _WANTS_TESTS.search(query) or "test" in name_parts:
        allowed.add(1)
    if _WANTS_EXAMPLES.search(query):
        allowed.add(2)
    if _WANTS_VENDORED.search(query):
        allowed.add(3)
    if filters.glob:
        allowed.update((1, 2, 3))  # an explicit path filter says where to look
    return _Query(
        text, kind, query_words(query), name_key, name_parts, qualifier, frozenset(allowed)
    )


_SIDE_POOL: ThreadPoolExecutor | None = None
_SIDE_POOL_LOCK = threading.Lock()
# Keeps that thread off the encoding thread's core, where the scheduler liked to wake it.
_SIDE_PLACEMENT = HelperPlacement()
# os.cpu_count() reads /sys on every call: 47 us a query, once counted per process.
_CPUS = os.cpu_count() or 1


def _side_pool() -> ThreadPoolExecutor | None:
    """One shared thread that does the lexical side of a search (query understanding, BM25,
    the symbol table, the candidates' vectors) while the searching thread encodes the
    query; None on a single core, where the overlap cannot happen."""
    global _SIDE_POOL
    if _CPUS < 2:
        return None
    if _SIDE_POOL is not None:
        return _SIDE_POOL
    with _SIDE_POOL_LOCK:
        if _SIDE_POOL is None:
            _SIDE_POOL = ThreadPoolExecutor(
                1, thread_name_prefix="codequest-lexical", initializer=_SIDE_PLACEMENT.register
            )
        return _SIDE_POOL


@dataclass(frozen=True, slots=True)
class _Vectors:
    """Candidate positions (sorted) and their stored vectors, row for row."""

    positions: np.ndarray
    matrix: np.ndarray


@dataclass(frozen=True, slots=True)
class _LexicalSide:
    """What a search knows before the query vector: the parsed query and the BM25 and
    symbol-table candidates (with their vectors when they were fetched in advance)."""

    query: _Query
    lex_all: np.ndarray | None  # BM25 score of every position; None without lexical
    lex_top: np.ndarray  # the best BM25 positions, best first
    names: dict[int, float]  # symbol-table matches: position -> name similarity
    prefetched: _Vectors | None


class Searcher:
    def __init__(
        self,
        store: StoreView,
        query_encoder: BasicQueryEncoder,
        *,
        max_per_file: int = Config.max_chunks_per_file,
        options: RankingOptions | None = None,
    ) -> None:
        self.store = store
        self.query_encoder = declared(query_encoder)
        self.max_per_file = max_per_file
        self.options = options or RankingOptions()
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()

    @property
    def snapshot_ready(self) -> bool:
        """Whether :meth:`snapshot` returns at once, without building one (about a second
        at 100k chunks)."""
        snap = self._snapshot
        return snap is not None and (
            snap.version == self.store.version
            or time.monotonic() - snap.built_at < SNAPSHOT_MAX_AGE
        )

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
        options: RankingOptions | None = None,
    ) -> list[SearchResult]:
        if not isinstance(query, str) or not query.strip():
            return []
        if limit <= 0:
            return []
        opts = options or self.options
        filters = filters or SearchFilters()
        spec = compile_glob(filters.glob)
        snap = self.snapshot()
        if not snap.records:
            return []
        use_lexical = opts.lexical and hybrid
        pool = max(opts.candidates, limit * 5)
        max_per_file = opts.max_per_file or self.max_per_file

        # 1. candidates: dense neighbours, BM25 top, symbol-table matches. When the
        # encoder leaves the GIL free, this thread encodes the query at once while another
        # does the lexical side. The encoder is the longest step and the one a cold cache
        # hurts most, so it starts first and waits for no thread to wake up.
        restrictive = spec is not None or bool(filters.languages) or filters.exclude_tests
        want_vector = opts.dense or restrictive
        vector: np.ndarray | None = None
        side_pool = _side_pool() if want_vector and use_lexical else None
        if side_pool is not None and self.query_encoder.releases_gil:
            _SIDE_PLACEMENT.keep_off_caller()
            side = side_pool.submit(
                self._lexical_side, snap, query, filters, opts, use_lexical, pool, True
            )
            try:
                vector = self.query_encoder.encode_query(query)
            finally:
                lexical = side.result()
        else:
            lexical = self._lexical_side(snap, query, filters, opts, use_lexical, pool, False)
            if want_vector:
                vector = self.query_encoder.encode_query(query)
        q, lex_all, lex_top = lexical.query, lexical.lex_all, lexical.lex_top
        names, prefetched = lexical.names, lexical.prefetched
        dense_ids = np.zeros(0, np.int64)
        dense_sims = np.zeros(0, np.float32)
        if opts.dense and vector is not None:
            # Rank fusion (the baselines) scores by rank in both full lists, so it keeps
            # the whole pool.
            dense_pool = (
                pool
                if opts.dense_candidates is None or opts.fusion == "rrf"
                else max(opts.dense_candidates, limit * 2)
            )
            dense_ids, dense_sims = self.store.search_vectors(vector, dense_pool)

        if opts.fusion == "rrf":
            scored, parts = self._rrf(snap, q, opts, dense_ids, dense_sims, lex_all, lex_top)
        else:
            scored, parts = self._weighted(
                snap,
                q,
                opts,
                vector,
                dense_ids,
                dense_sims,
                lex_all,
                lex_top,
                names,
                explain,
                prefetched,
            )

        results = self._collect(
            snap, q, opts, scored, parts, filters, spec, limit, max_per_file, explain
        )
        if len(results) < limit and vector is not None and restrictive:
            per_file: dict[str, int] = {}
            for r in results:
                per_file[r.path] = per_file.get(r.path, 0) + 1
            results = self._fill_filtered(
                snap, vector, results, limit, filters, spec, per_file, max_per_file
            )
        return results

    # -- candidates ----------------------------------------------------------------------
    def _lexical_side(
        self,
        snap: Snapshot,
        query: str,
        filters: SearchFilters,
        opts: RankingOptions,
        use_lexical: bool,
        pool: int,
        prefetch: bool,
    ) -> _LexicalSide:
        """Query understanding, BM25 and symbol candidates; with ``prefetch``, also the
        candidates' stored vectors, so their exact similarity costs one product later."""
        q = _understand(query, filters)
        lex_all: np.ndarray | None = None
        lex_top = np.zeros(0, np.int64)
        names: dict[int, float] = {}
        if use_lexical:
            lex_all = snap.lexical.scores_weighted(self._query_terms(snap, q, opts))
            lex_top = snap.lexical.top_of(lex_all, pool)
        if opts.symbol_match and q.kind == QUERY_IDENTIFIER:
            names = self._symbol_matches(snap, q)
        prefetched = None
        if prefetch and opts.dense and opts.weights[q.kind].dense:
            prefetched = self._candidate_vectors(snap, lex_top, names)
        return _LexicalSide(q, lex_all, lex_top, names, prefetched)

    @staticmethod
    def _query_terms(snap: Snapshot, q: _Query, opts: RankingOptions) -> dict[int, float]:
        terms: dict[int, float] = {}
        for token in tokenize(q.text):
            tid = snap.vocab_ids.get(token)
            if tid is not None:
                terms[tid] = 1.0
            if opts.query_expansion and q.kind != QUERY_IDENTIFIER:
                for form in variants(token):
                    vid = snap.vocab_ids.get(form)
                    if vid is not None and vid not in terms:
                        terms[vid] = 0.5
        if q.kind == QUERY_IDENTIFIER and q.name_key:
            # The joined name: "assert_almost_equal" also finds "assertalmostequal".
            tid = snap.vocab_ids.get(q.name_key)
            if tid is not None:
                terms[tid] = 1.0
        return terms

    @staticmethod
    def _symbol_matches(snap: Snapshot, q: _Query) -> dict[int, float]:
        """Positions of definitions whose name matches the query name, with a 0..1 score."""
        table = snap.symbols
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

    # -- scoring -------------------------------------------------------------------------
    def _rrf(
        self,
        snap: Snapshot,
        q: _Query,
        opts: RankingOptions,
        dense_ids: np.ndarray,
        dense_sims: np.ndarray,
        lex_all: np.ndarray | None,
        lex_top: np.ndarray,
    ) -> tuple[list[tuple[int, float]], dict[int, dict[str, float]]]:
        w = opts.weights[q.kind]
        w_dense, w_lex = (1.0, 1.0) if opts.rrf_equal else (w.dense, w.lexical)
        fused: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}
        # Ranks count every neighbour, including ids the snapshot does not have yet.
        positions, ranks = snap.positions_of(dense_ids, np.arange(len(dense_ids)))
        for pos, rank in zip(positions.tolist(), ranks.tolist(), strict=True):
            fused[pos] = fused.get(pos, 0.0) + w_dense / (RRF_K + rank)
            parts.setdefault(pos, {})["dense"] = float(dense_sims[rank])
        if lex_all is not None:
            for rank, pos in enumerate(lex_top.tolist()):
                fused[pos] = fused.get(pos, 0.0) + w_lex / (RRF_K + rank)
                parts.setdefault(pos, {})["lexical"] = float(lex_all[pos])
        return sorted(fused.items(), key=lambda item: -item[1]), parts

    def _weighted(
        self,
        snap: Snapshot,
        q: _Query,
        opts: RankingOptions,
        vector: np.ndarray | None,
        dense_ids: np.ndarray,
        dense_sims: np.ndarray,
        lex_all: np.ndarray | None,
        lex_top: np.ndarray,
        names: dict[int, float],
        explain: bool,
        prefetched: _Vectors | None = None,
    ) -> tuple[list[tuple[int, float]], dict[int, dict[str, float]]]:
        w = opts.weights[q.kind]
        # Candidate positions in a fixed order: dense neighbours (unique, so they stay
        # first), then BM25's top, then symbol-table matches.
        dense_pos, dense_sims = snap.positions_of(dense_ids, dense_sims)
        everything = np.concatenate(
            [dense_pos, lex_top, np.fromiter(names, np.int64, count=len(names))]
        )
        if not len(everything):
            return [], {}
        _, first = np.unique(everything, return_index=True)
        first.sort()
        positions = everything[first]
        n_dense = len(dense_pos)

        # Exact dense similarity for every candidate (lexical/name-only ones included).
        dense = np.zeros(len(positions), np.float32)
        dense[:n_dense] = dense_sims
        if opts.dense and vector is not None and w.dense and len(positions) > n_dense:
            rest = positions[n_dense:]
            known = prefetched or self._candidate_vectors(snap, rest, {})
            # Every candidate past the dense ones came from lexical_top or names, so it is
            # among the fetched positions (sorted), unless its vector is missing.
            at = np.minimum(np.searchsorted(known.positions, rest), len(known.positions) - 1)
            hit = known.positions[at] == rest if len(known.positions) else np.zeros(len(rest), bool)
            if hit.any():
                dense[n_dense:][hit] = known.matrix[at[hit]] @ vector
        lexical = (
            lex_all[positions] if lex_all is not None else np.zeros(len(positions), np.float32)
        )

        # Normalise to 0..1 within the candidate pool.
        dense_n = _minmax(dense) if opts.dense else dense
        lex_max = float(lexical.max()) if len(lexical) else 0.0
        lex_n = lexical / lex_max if lex_max > 0 else lexical

        name = np.zeros(len(positions), np.float32)
        path = np.zeros(len(positions), np.float32)
        qwords = set(q.words)
        if opts.symbol_match and opts.name_feature and w.name:
            if q.kind == QUERY_IDENTIFIER:
                name = np.fromiter(
                    (names.get(p, 0.0) for p in positions.tolist()), np.float32, len(positions)
                )
            elif qwords:
                name = self._name_coverage(snap, positions, qwords)
        if opts.path_feature and qwords and w.path:
            files = snap.file_of[positions]
            cover = {f: len(qwords & snap.file_words[f]) / len(qwords) for f in set(files.tolist())}
            path = np.fromiter((cover[f] for f in files.tolist()), np.float32, len(positions))

        score = w.dense * dense_n + w.lexical * lex_n + w.name * name + w.path * path
        kind_bonus = opts.kind_prior * snap.is_definition[positions]
        score = score + kind_bonus
        file_part = np.zeros(len(positions), np.float32)
        if opts.file_aggregation and w.file and len(positions) > 1:
            file_part = self._file_scores(snap.file_of[positions], score)
            score = score + w.file * file_part
        demote = np.ones(len(positions), np.float32)
        if opts.demote:
            flags = snap.demoted[positions]
            for flag in (1, 2, 3):
                if flag not in q.allowed_demotions:
                    demote[flags == flag] = opts.demote_factor
            score = score * demote

        order = np.argsort(-score, kind="stable")
        ranked = list(zip(positions[order].tolist(), score[order].tolist(), strict=True))
        parts: dict[int, dict[str, float]] = {}
        if explain:
            plist = positions.tolist()
            for i in order[:200].tolist():
                parts[plist[i]] = {
                    "dense": float(dense[i]),
                    "dense_norm": float(dense_n[i]),
                    "lexical": float(lexical[i]),
                    "lexical_norm": float(lex_n[i]),
                    "name": float(name[i]),
                    "path": float(path[i]),
                    "definition": float(kind_bonus[i]),
                    "file": float(file_part[i]),
                    "demote": float(demote[i]),
                }
        return ranked, parts

    def _candidate_vectors(
        self, snap: Snapshot, lex_top: np.ndarray, names: dict[int, float]
    ) -> _Vectors:
        """The stored vectors of these candidate positions, sorted by position."""
        wanted = np.unique(
            np.concatenate([lex_top, np.fromiter(names, np.int64, count=len(names))])
        )
        if not len(wanted):
            return _Vectors(wanted, np.zeros((0, self.store.dim), np.float32))
        found, matrix = self.store.vectors_of(snap.ids[wanted])
        return _Vectors(wanted[found], matrix)

    @staticmethod
    def _name_coverage(snap: Snapshot, positions: np.ndarray, qwords: set[str]) -> np.ndarray:
        """Share of a definition name's words that the query mentions (stemmed, prefix-aware)."""
        words_of = snap.symbols.words
        # A name word counts when it is a query word or a 3+ letter prefix of one.
        known = set(qwords)
        for x in qwords:
            known.update(x[:i] for i in range(3, len(x)))
        # One computation per distinct name, not per chunk.
        uniq, inverse = np.unique(snap.symbols.name_id[positions], return_inverse=True)
        values = np.zeros(len(uniq), np.float32)
        for j, nid in enumerate(uniq.tolist()):
            if nid >= 0:
                words = words_of[nid]
                if words:
                    values[j] = sum(1 for w in words if w in known) / len(words)
        return values[inverse.reshape(-1)]

    @staticmethod
    def _file_scores(files: np.ndarray, score: np.ndarray) -> np.ndarray:
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

    # -- results -------------------------------------------------------------------------
    def _collect(
        self,
        snap: Snapshot,
        q: _Query,
        opts: RankingOptions,
        ranked: list[tuple[int, float]],
        parts: dict[int, dict[str, float]],
        filters: SearchFilters,
        spec: pathspec.PathSpec | None,
        limit: int,
        max_per_file: int,
        explain: bool,
    ) -> list[SearchResult]:
        promote_classes = (
            opts.class_results and opts.fusion == "weighted" and q.kind in opts.class_result_queries
        )
        owners: dict[tuple[str, str], int] = {}
        if promote_classes:
            for pos, _ in ranked[: max(30, limit * 2)]:
                owner = _owner(snap, pos)
                if owner is not None:
                    owners[owner] = owners.get(owner, 0) + 1
        results: list[SearchResult] = []
        per_file: dict[str, int] = {}
        emitted_classes: set[tuple[str, str]] = set()
        for pos, score in ranked:
            record = snap.records[pos]
            if not _passes(record, filters, spec):
                continue
            if per_file.get(record.path, 0) >= max_per_file:
                continue
            owner = _owner(snap, pos) if promote_classes else None
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
                start, end, head, last = snap.classes[owner]
                emitted_classes.add(owner)
                if explain:
                    comp["class_members"] = float(owners[owner])
                head_rec = snap.records[head]
                results.append(
                    SearchResult(
                        path=record.path,
                        start_line=start,
                        end_line=end,
                        symbol=owner[1],
                        kind=ChunkKind.CLASS,
                        language=record.language,
                        score=score,
                        preview=head_rec.preview,
                        explain=comp,
                        end_units=snap.records[last].end_units,
                    )
                )
            else:
                results.append(_result(record, score, comp))
            per_file[record.path] = per_file.get(record.path, 0) + 1
            if len(results) >= limit:
                break
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
        max_per_file: int,
    ) -> list[SearchResult]:
        """Restrictive filters starve the candidate pool; scan the filtered subset exactly."""
        taken = {(r.path, r.start_line, r.end_line) for r in results}
        subset = [r for r in snap.records if _passes(r, filters, spec)][:50_000]
        if not subset:
            return results
        found, matrix = self.store.vectors_of(np.asarray([r.id for r in subset], np.int64))
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
            # Scores from this scan are not comparable with fused scores; keep them below.
            results.append(_result(record, float(sims[i]) * 1e-3, {}))
            if len(results) >= limit:
                break
        return results


def _owner_of(
    record: ChunkRecord, classes: Mapping[tuple[str, str], tuple[int, int, int, int]]
) -> tuple[str, str] | None:
    """The split class a method chunk (or a class header chunk) belongs to, if any."""
    if not record.symbol or record.kind == ChunkKind.WINDOW:
        return None
    if record.kind == ChunkKind.CLASS and (record.path, record.symbol) in classes:
        return (record.path, record.symbol)
    if "." in record.symbol:
        owner = (record.path, record.symbol.rsplit(".", 1)[0])
        if owner in classes:
            return owner
    return None


def _owner(snap: Snapshot, pos: int) -> tuple[str, str] | None:
    return snap.owners[pos]


def _minmax(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


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
        end_units=record.end_units,
    )
