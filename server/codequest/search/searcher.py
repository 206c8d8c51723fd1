"""The :class:`Searcher`: one store, one query encoder, and the steps of a search in order.

1. **Query understanding and lexical candidates** (:func:`~.candidates.lexical_side`): the
   query's class, BM25 over identifier parts, symbol-table matches. When the encoder
   leaves the GIL free this runs on the helper thread while this thread encodes the query.
2. **Dense candidates** (:func:`~.candidates.dense_hits`) from the query vector.
3. **Ranking** (:mod:`.scoring`): weighted fusion of per-candidate features, or rank fusion.
4. **Results** (:mod:`.results`): filters, the per-file cap, class results, and an exact
   scan when a restrictive filter starved the pool.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from codequest.config import Config
from codequest.encoders import BasicQueryEncoder, declared
from codequest.index.view import StoreView
from codequest.search import helper
from codequest.search.candidates import Candidates, LexicalSide, dense_hits, gather, lexical_side
from codequest.search.options import Fusion, RankingOptions
from codequest.search.query import ParsedQuery, SearchPlan, compile_glob
from codequest.search.results import collect, fill_filtered
from codequest.search.scoring import rrf, weighted
from codequest.search.snapshot import Snapshot
from codequest.types import SearchFilters, SearchResult

# A snapshot older than this is rebuilt while the store keeps changing (indexing).
SNAPSHOT_MAX_AGE = 1.0


class Searcher:
    """Hybrid retrieval and ranking over a :class:`~codequest.index.view.StoreView`."""

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

    # -- the snapshot --------------------------------------------------------------------
    @property
    def snapshot_ready(self) -> bool:
        """Whether :meth:`snapshot` returns at once, without building one (about a second
        at 100k chunks)."""
        snap = self._snapshot
        return snap is not None and (
            snap.version == self.store.version
            or time.monotonic() - snap.built_at < SNAPSHOT_MAX_AGE
        )

    def snapshot(self, *, current: bool = False) -> Snapshot:
        """The search snapshot. While the store keeps changing (an index run), one younger
        than ``SNAPSHOT_MAX_AGE`` is reused; ``current`` asks for the store as it is now
        (the end of a run: its last files must be searchable at once)."""
        snap = self._snapshot
        if snap is not None and (
            snap.version == self.store.version
            or (not current and time.monotonic() - snap.built_at < SNAPSHOT_MAX_AGE)
        ):
            return snap
        with self._snapshot_lock:
            snap = self._snapshot
            if snap is None or snap.version != self.store.version:
                snap = Snapshot.build(self.store)
                self._snapshot = snap
            return snap

    # -- a search ------------------------------------------------------------------------
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
        snap = self.snapshot()
        if not snap.records:
            return []
        plan = self.plan(
            query, limit=limit, filters=filters, explain=explain, hybrid=hybrid, options=options
        )
        vector, side = self._encode_beside_lexical(snap, plan)
        dense = dense_hits(self.store, plan, vector)
        if plan.options.fusion is Fusion.RRF:
            ranking = rrf(snap, plan, dense, side)
        else:
            ranking = weighted(snap, plan, gather(self.store, snap, plan, vector, dense, side))
        results = collect(snap, side.query, plan, ranking)
        if len(results) < limit and vector is not None and plan.restrictive:
            results = fill_filtered(self.store, snap, plan, vector, results)
        return results

    def plan(
        self,
        query: str,
        *,
        limit: int = 20,
        filters: SearchFilters | None = None,
        explain: bool = False,
        hybrid: bool = True,
        options: RankingOptions | None = None,
    ) -> SearchPlan:
        """What :meth:`search` will do for these arguments."""
        opts = options or self.options
        filters = filters or SearchFilters()
        spec = compile_glob(filters.glob)
        return SearchPlan(
            text=query,
            options=opts,
            filters=filters,
            spec=spec,
            limit=limit,
            pool=max(opts.candidates, limit * 5),
            max_per_file=opts.max_per_file or self.max_per_file,
            explain=explain,
            use_lexical=opts.lexical and hybrid,
            restrictive=spec is not None or bool(filters.languages) or filters.exclude_tests,
        )

    def weighted_candidates(self, plan: SearchPlan) -> tuple[ParsedQuery, Candidates | None]:
        """The understood query and the pool weighted fusion scores, before any weight is
        applied: what a study of the weights re-scores (``benchmarks.realrepos_cv``)."""
        snap = self.snapshot()
        vector, side = self._encode_beside_lexical(snap, plan)
        dense = dense_hits(self.store, plan, vector)
        return side.query, gather(self.store, snap, plan, vector, dense, side)

    def _encode_beside_lexical(
        self, snap: Snapshot, plan: SearchPlan
    ) -> tuple[np.ndarray | None, LexicalSide]:
        """The query vector (None when no step needs one) and the lexical side. When the
        encoder leaves the GIL free, this thread encodes the query at once while the helper
        does the lexical side: the encoder is the longest step and the one a cold cache
        hurts most, so it starts first and waits for no thread to wake up."""
        want_vector = plan.options.dense or plan.restrictive
        pool = helper.side_pool() if want_vector and plan.use_lexical else None
        if pool is not None and self.query_encoder.releases_gil:
            helper.PLACEMENT.keep_off_caller()
            future = pool.submit(self._lexical_side, snap, plan, True)
            try:
                vector = self.query_encoder.encode_query(plan.text)
            finally:
                side = future.result()
            return vector, side
        side = self._lexical_side(snap, plan, False)
        return (self.query_encoder.encode_query(plan.text) if want_vector else None), side

    def _lexical_side(self, snap: Snapshot, plan: SearchPlan, prefetch: bool) -> LexicalSide:
        return lexical_side(self.store, snap, plan, prefetch)
