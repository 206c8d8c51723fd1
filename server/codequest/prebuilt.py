"""Prebuilt, shared indexes: a read-only base built at a git commit, plus a local overlay.

A prebuilt index is an ordinary store folder (paths relative to the indexed root) whose
``extra["prebuilt"]`` records the commit it was built at. ``codequest index PATH --output
DIR`` writes one; CI can publish it next to the commit.

A consumer (``indexPath`` setting, ``--index DIR``) opens it read-only, memory-mapped
(usearch ``Index.view``), and keeps a small writable overlay store in its own cache folder
with only the files that differ from the base: edited and new files since the commit. Base
files that were changed or deleted are *masked*: their chunks never reach a result list.
:class:`LayeredStore` presents base + overlay to the :class:`~codequest.search.Searcher`
as one store, so ranking sees one candidate pool and one lexical vocabulary.

A base that cannot be used (another model, another format version, a commit that is not an
ancestor of the checkout) is refused with a one-line reason, and the workspace falls back
to indexing locally.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from codequest.config import Config
from codequest.discovery import read_source
from codequest.encoders import DOCUMENT_RECIPE, BasicQueryEncoder, DocumentEncoder
from codequest.errors import PrebuiltError, StoreError
from codequest.indexer import ProgressFn, index_workspace
from codequest.store import META_FILE, ChunkRecord, FileRecord, Store, writer_lock
from codequest.store_view import LexicalTables, StoreView
from codequest.text import file_hash
from codequest.types import IndexReport, SourceFile
from codequest.workspace import Workspace

log = logging.getLogger(__name__)

PREBUILT_FORMAT = 1
PREBUILT_KEY = "prebuilt"
OVERLAY_DIR = "overlay"
# Overlay chunk ids are shifted by this much so they never collide with base ids.
OVERLAY_ID_OFFSET = 1 << 40
GIT_TIMEOUT = 60.0


# -- git -----------------------------------------------------------------------------------
def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run git in ``root``; None when git itself is missing or hangs."""
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_head(root: Path) -> str | None:
    done = _git(root, "rev-parse", "HEAD")
    return done.stdout.strip() if done is not None and done.returncode == 0 else None


def git_subdir(root: Path) -> str:
    """``root`` relative to its repository's top level ("" at the top)."""
    done = _git(root, "rev-parse", "--show-prefix")
    return done.stdout.strip().rstrip("/") if done is not None and done.returncode == 0 else ""


def git_is_dirty(root: Path) -> bool:
    """Uncommitted changes to tracked files under ``root``."""
    done = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return bool(done is not None and done.returncode == 0 and done.stdout.strip())


def git_changed_since(root: Path, commit: str) -> set[str] | None:
    """Paths under ``root`` (relative to it) that may differ from ``commit``: tracked files
    changed, added or deleted since, plus untracked files. None when git cannot tell."""
    diff = _git(root, "diff", "--name-only", "--no-renames", "--relative", "-z", commit, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    if diff is None or untracked is None or diff.returncode or untracked.returncode:
        return None
    return {p for p in (diff.stdout + untracked.stdout).split("\0") if p}


def check_ancestor(root: Path, commit: str) -> str:
    """Empty when ``commit`` is an ancestor of (or is) HEAD in ``root``; else the reason."""
    head = git_head(root)
    if head is None:
        return f"{root} is not a git checkout, so commit {commit[:12]} cannot be checked"
    if head == commit:
        return ""
    done = _git(root, "merge-base", "--is-ancestor", commit, head)
    if done is None:
        return "git is not available to check the prebuilt commit"
    if done.returncode == 0:
        return ""
    if done.returncode == 1:
        return f"commit {commit[:12]} is not an ancestor of HEAD {head[:12]}"
    return f"commit {commit[:12]} is unknown in this checkout (fetch it, or rebuild the index)"


# -- building ------------------------------------------------------------------------------
def build_prebuilt(
    root: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: Config,
    *,
    document_encoder: DocumentEncoder | None = None,
    progress: ProgressFn | None = None,
) -> tuple[IndexReport, dict[str, Any]]:
    """Index ``root`` into ``output`` and stamp it with the commit it was built at."""
    root = Path(root).resolve()
    output = Path(output).resolve()
    commit = git_head(root)
    if commit is None:
        raise PrebuiltError(
            f"{root} is not a git checkout with a commit; a prebuilt index "
            "records the commit it was built at"
        )
    dirty = git_is_dirty(root)
    config = dataclasses.replace(config, cache_dir=str(output), index_path="")
    ws = Workspace(root, config, document_encoder=document_encoder)
    report = ws.index(progress=progress)
    info = {
        "format": PREBUILT_FORMAT,
        "commit": commit,
        "root_name": root.name,
        "subdir": git_subdir(root),
        "created": time.time(),
        "dirty": dirty,
    }
    with writer_lock(output):
        store = ws.local_store()
        store.extra[PREBUILT_KEY] = info
        store.save()
    ws.close()
    return report, info


# -- opening -------------------------------------------------------------------------------
def open_base(path: Path, root: Path, model_identity: str) -> tuple[Store, dict[str, Any]]:
    """Load a prebuilt index read-only, or raise :class:`PrebuiltError` saying why not."""
    if not (path / META_FILE).is_file():
        raise PrebuiltError(f"no prebuilt index at {path}")
    try:
        base = Store.load(path, model=model_identity, recipe=DOCUMENT_RECIPE, read_only=True)
    except StoreError as err:
        raise PrebuiltError(err.reason) from err
    info = base.extra.get(PREBUILT_KEY)
    if not isinstance(info, dict) or not isinstance(info.get("commit"), str):
        raise PrebuiltError(f"index at {path} is not a prebuilt index (build one with --output)")
    if info.get("format") != PREBUILT_FORMAT:
        raise PrebuiltError(
            f"prebuilt index at {path} has prebuilt format version {info.get('format')!r}, "
            f"this CodeQuest reads version {PREBUILT_FORMAT}"
        )
    reason = check_ancestor(root, info["commit"])
    if reason:
        raise PrebuiltError(reason)
    return base, info


def _base_key(info: dict[str, Any], base: Store) -> str:
    return f"{info['commit']}:{base.generation}:{info.get('created')}"


class _OverlayStore(Store):
    """A writable store that also reuses the base's vectors by content hash."""

    fallback: Store | None = None

    def vector_for_hash(self, content_hash: str) -> np.ndarray | None:
        vector = super().vector_for_hash(content_hash)
        if vector is None and self.fallback is not None:
            vector = self.fallback.vector_for_hash(content_hash)
        return vector


# -- the merged view -----------------------------------------------------------------------
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


# -- the workspace -------------------------------------------------------------------------
class _Selector:
    """Decides, per discovered file, whether it belongs in the overlay (differs from base)."""

    def __init__(self, config: Config, base: Store, overlay: Store, hint: set[str] | None) -> None:
        self.config = config
        self.base = base
        self.overlay = overlay
        self.hint = hint
        self.same_as_base: set[str] = set()

    def __call__(self, source: SourceFile) -> bool:
        stored = self.base.files.get(source.path)
        if stored is None:
            return True  # new since the commit (or not in the base for another reason)
        in_overlay = self.overlay.files.get(source.path)
        if self.hint is not None and source.path not in self.hint and in_overlay is None:
            self.same_as_base.add(source.path)
            return False
        if (
            in_overlay is not None
            and in_overlay.size == source.size
            and in_overlay.mtime_ns == source.mtime_ns
        ):
            return True  # indexed into the overlay already, unchanged since
        text = read_source(source, Counter(), max_bytes=self.config.max_file_bytes)
        if text is not None and file_hash(text) == stored.file_hash:
            self.same_as_base.add(source.path)
            return False
        return True

    def masked(self) -> set[str]:
        """Base paths whose content is not current: changed, deleted or now excluded."""
        return {path for path in self.base.files if path not in self.same_as_base}


class LayeredWorkspace(Workspace):
    """A :class:`Workspace` that searches a prebuilt base plus a local overlay.

    When the prebuilt index cannot be used, ``fallback_reason`` says why (one line) and
    the workspace behaves exactly like a plain one, indexing locally.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        config: Config | None = None,
        *,
        document_encoder: DocumentEncoder | None = None,
        query_encoder: BasicQueryEncoder | None = None,
    ) -> None:
        super().__init__(
            root, config, document_encoder=document_encoder, query_encoder=query_encoder
        )
        index_path = Path(os.path.expanduser(self.config.index_path))
        self.index_path = index_path if index_path.is_absolute() else self.root / index_path
        self.overlay_dir = self.cache_dir / OVERLAY_DIR
        self.base: Store | None = None
        self.prebuilt: dict[str, Any] = {}
        self.fallback_reason = ""
        self._layered: LayeredStore | None = None
        self._overlay_lock = threading.Lock()
        try:
            self.base, self.prebuilt = open_base(self.index_path, self.root, self.model_identity)
        except PrebuiltError as err:
            self.fallback_reason = (
                f"prebuilt index {self.index_path} not used: {err.reason}; indexing locally"
            )
            log.info("%s", self.fallback_reason)

    @property
    def uses_prebuilt(self) -> bool:
        return self.base is not None

    # -- store ---------------------------------------------------------------------------
    @property
    def store(self) -> StoreView:
        if self.base is None:
            return super().store
        return self._layered_store(self.base)

    def _layered_store(self, base: Store) -> LayeredStore:
        with self._lock:
            if self._layered is None:
                self._layered = self._open_layered(base)
            return self._layered

    def _loaded_store(self) -> StoreView | None:
        if self.base is None:
            return super()._loaded_store()
        return self._layered

    def _open_layered(self, base: Store) -> LayeredStore:
        key = _base_key(self.prebuilt, base)
        overlay: _OverlayStore
        try:
            overlay = _OverlayStore.load(
                self.overlay_dir, model=self.model_identity, recipe=DOCUMENT_RECIPE
            )
            if overlay.extra.get("base") != key:
                raise StoreError("the overlay belongs to another prebuilt index")
        except StoreError:
            overlay = _OverlayStore(self.overlay_dir, self.model_identity, base.dim)
            overlay.extra["base"] = key
        overlay.fallback = base
        return LayeredStore(base, overlay, overlay.extra.get("masked", ()))

    def has_index(self) -> bool:
        if self.base is None:
            return super().has_index()
        return (self.overlay_dir / META_FILE).is_file()

    # -- indexing ------------------------------------------------------------------------
    def index(
        self,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Bring the overlay up to date with the files that differ from the prebuilt base."""
        base = self.base
        if base is None:
            report = super().index(progress=progress, cancel=cancel)
            if self.fallback_reason and not report.rebuild_reason:
                report = dataclasses.replace(report, rebuild_reason=self.fallback_reason)
            return report
        with self._overlay_lock, writer_lock(self.overlay_dir):
            layered = self._layered_store(base)
            on_disk = Store.peek_generation(self.overlay_dir)
            if on_disk is not None and on_disk != layered.overlay.generation:
                with self._lock:  # another process wrote the overlay: start from its copy
                    self._layered = None
                    self._searcher = None
                layered = self._layered_store(base)
            overlay = layered.overlay
            hint = (
                None
                if self.prebuilt.get("dirty")
                else git_changed_since(self.root, str(self.prebuilt["commit"]))
            )
            select = _Selector(self.config, base, overlay, hint)
            report = index_workspace(
                self.root,
                self.config,
                overlay,
                self.document_encoder,
                progress=progress,
                cancel=cancel,
                select=select,
            )
            masked = select.masked()
            if sorted(masked) != sorted(overlay.extra.get("masked", ())):
                overlay.extra["masked"] = sorted(masked)
                overlay.save()
            layered.set_masked(masked)
            with self._lock:
                self._searcher = None  # its snapshot may be up to a second old
        return dataclasses.replace(report, files=len(layered.files), chunks=len(layered.chunks))

    def status(self) -> dict[str, Any]:
        status = super().status()
        if self.base is None:
            status["prebuilt"] = {"used": False, "reason": self.fallback_reason}
            status["problem"] = status.get("problem") or self.fallback_reason
            return status
        layered = self._layered_store(self.base)
        status["indexed"] = self.has_index()
        status["prebuilt"] = {
            "used": True,
            "path": str(self.index_path),
            "commit": self.prebuilt.get("commit"),
            "baseFiles": len(self.base.files),
            "overlayFiles": len(layered.overlay.files),
            "maskedFiles": len(layered.masked),
        }
        return status


def open_workspace(
    root: str | os.PathLike[str],
    config: Config | None = None,
    *,
    document_encoder: DocumentEncoder | None = None,
    query_encoder: BasicQueryEncoder | None = None,
) -> Workspace:
    """A :class:`LayeredWorkspace` when ``config.index_path`` is set, else a plain one."""
    cls = LayeredWorkspace if config is not None and config.index_path else Workspace
    return cls(root, config, document_encoder=document_encoder, query_encoder=query_encoder)
