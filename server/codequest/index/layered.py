"""A read-only prebuilt base plus a writable overlay, read as one store."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

import numpy as np

from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.store import Store
from codequest.index.view import LexicalTables

# Overlay chunk ids are shifted by this much so they never collide with base ids.
OVERLAY_ID_OFFSET = 1 << 40


class LayeredStore:
    """Base (read-only) plus overlay, as one :class:`~codequest.store_view.StoreView`.

    Base chunk ids are kept; overlay ids are shifted by :data:`OVERLAY_ID_OFFSET`. The
    merged chunk, term and vocabulary tables are rebuilt when the overlay or the mask
    changes (cheap next to a snapshot rebuild, which copies them anyway), from what the
    overlay hands out in one consistent read (:meth:`Store.lexical_tables`); this object's
    own lock guards the merged tables and the mask.
    """

    read_only = False

    def __init__(self, base: Store, overlay: Store, masked: Iterable[str]) -> None:
        self.base = base
        self.overlay = overlay
        self.model = base.model
        self.dim = base.dim
        self._lock = threading.RLock()
        self._masked: set[str] = set(masked)
        self._mask_serial = 0
        self._built: tuple[int, int] | None = None
        self._version = 0
        self._chunks: dict[int, ChunkRecord] = {}
        self._terms: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._files: dict[str, FileRecord] = {}
        self._masked_ids: set[int] = set()
        # Merged vocabulary: the base's, then overlay-only terms appended.
        self._vocab: list[str] = list(base.vocab)
        self._vocab_ids: dict[str, int] = dict(base.vocab_ids)
        self._overlay_term_map = np.zeros(0, dtype=np.uint32)

    # -- masking -------------------------------------------------------------------------
    @property
    def masked(self) -> frozenset[str]:
        return frozenset(self._masked)

    def set_masked(self, masked: Iterable[str]) -> None:
        with self._lock:
            masked = set(masked)
            if masked != self._masked:
                self._masked = masked
                self._mask_serial += 1

    def remove_file(self, path: str) -> bool:
        """Hide ``path`` at once (an editor reported it deleted)."""
        with self._lock:
            removed = self.overlay.remove_file(path)
            if path in self.base.files and path not in self._masked:
                self._masked.add(path)
                self._mask_serial += 1
                removed = True
            return removed

    # -- merged tables -------------------------------------------------------------------
    def _refresh(self) -> None:
        with self._lock:
            overlay_version = self.overlay.version
            state = (overlay_version, self._mask_serial)
            if state == self._built:
                return
            base = self.base
            masked_ids = {
                cid
                for path in self._masked
                if path in base.files
                for cid in base.files[path].chunk_ids
            }
            chunks = {cid: r for cid, r in base.chunks.items() if cid not in masked_ids}
            terms = {cid: base.terms[cid] for cid in chunks}
            files = {p: f for p, f in base.files.items() if p not in self._masked}
            overlay = self.overlay.lexical_tables()
            overlay_files = dict(self.overlay.files)
            term_map = self._overlay_terms(overlay.vocab_size)
            for record, (ids, counts) in zip(overlay.records, overlay.terms, strict=True):
                new_id = record.id + OVERLAY_ID_OFFSET
                chunks[new_id] = dataclasses.replace(record, id=new_id)
                terms[new_id] = (term_map[ids] if len(ids) else ids, counts)
            files.update(overlay_files)
            self._chunks, self._terms, self._files = chunks, terms, files
            self._masked_ids = masked_ids
            # The overlay may have moved on while we read it; what we built is as of the
            # version its tables carry, so the next read rebuilds if it changed since.
            self._built = (overlay.version, state[1])
            self._version += 1

    def _overlay_terms(self, size: int) -> np.ndarray:
        """Overlay term id -> merged term id, for the first ``size`` overlay terms.

        The overlay's vocabulary only grows (appends), so its first ``size`` terms can be
        read while its indexer appends more.
        """
        known = len(self._overlay_term_map)
        if known < size:
            extra = np.empty(size - known, dtype=np.uint32)
            for i, term in enumerate(self.overlay.vocab[known:size]):
                tid = self._vocab_ids.get(term)
                if tid is None:
                    tid = len(self._vocab)
                    self._vocab.append(term)
                    self._vocab_ids[term] = tid
                extra[i] = tid
            self._overlay_term_map = np.concatenate([self._overlay_term_map, extra])
        return self._overlay_term_map

    @property
    def version(self) -> int:
        self._refresh()
        return self._version

    @property
    def generation(self) -> int:
        return self.overlay.generation

    @property
    def chunks(self) -> dict[int, ChunkRecord]:
        self._refresh()
        return self._chunks

    @property
    def files(self) -> dict[str, FileRecord]:
        self._refresh()
        return self._files

    def paths(self) -> list[str]:
        return list(self.files)

    def records(self) -> tuple[int, tuple[ChunkRecord, ...]]:
        with self._lock:
            self._refresh()
            return self._version, tuple(self._chunks.values())

    def lexical_tables(self) -> LexicalTables:
        with self._lock:
            self._refresh()
            records = tuple(self._chunks.values())
            return LexicalTables(
                version=self._version,
                records=records,
                terms=tuple(self._terms[r.id] for r in records),
                vocab_ids=dict(self._vocab_ids),
                vocab_size=len(self._vocab),
            )

    # -- queries -------------------------------------------------------------------------
    def search_vectors(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Nearest unmasked base chunks and overlay chunks, merged by similarity."""
        masked_ids = self._current_masked_ids()
        if count <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        keys, sims = self.base.search_vectors(query, count + len(masked_ids))
        if masked_ids:
            keep = np.fromiter((int(k) not in masked_ids for k in keys), bool, len(keys))
            keys, sims = keys[keep], sims[keep]
        okeys, osims = self.overlay.search_vectors(query, count)
        keys = np.concatenate([keys, okeys + OVERLAY_ID_OFFSET])
        sims = np.concatenate([sims, osims])
        order = np.argsort(-sims, kind="stable")[:count]
        return keys[order], sims[order]

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Base rows for base ids (none for masked ones), overlay rows for shifted ids."""
        masked_ids = self._current_masked_ids()
        keys = np.asarray(ids, dtype=np.int64).reshape(-1)
        in_overlay = keys >= OVERLAY_ID_OFFSET
        found = np.zeros(len(keys), bool)
        matrix = np.zeros((len(keys), self.dim), np.float32)
        for part, store, shift in (
            (~in_overlay, self.base, 0),
            (in_overlay, self.overlay, OVERLAY_ID_OFFSET),
        ):
            at = np.flatnonzero(part)
            if masked_ids and shift == 0:
                at = at[np.fromiter((int(k) not in masked_ids for k in keys[at]), bool, len(at))]
            if not len(at):
                continue
            hit, rows = store.vectors_of(keys[at] - shift)
            found[at[hit]] = True
            matrix[at[hit]] = rows
        return found, matrix[found]

    def _current_masked_ids(self) -> set[int]:
        with self._lock:
            self._refresh()
            return self._masked_ids
