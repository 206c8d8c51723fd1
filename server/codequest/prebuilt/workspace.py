"""A workspace that searches a prebuilt base plus a local overlay of what differs from it."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codequest.config import Config
from codequest.discovery import read_source
from codequest.encoders import DOCUMENT_RECIPE, BasicQueryEncoder, DocumentEncoder
from codequest.errors import PrebuiltError, StoreError
from codequest.index.indexer import ProgressFn, index_workspace
from codequest.index.layered import LayeredStore
from codequest.index.persist import META_FILE, writer_lock
from codequest.index.store import Store
from codequest.index.view import StoreView
from codequest.prebuilt.base import base_key, open_base
from codequest.prebuilt.git import git_changed_since
from codequest.text import file_hash
from codequest.types import IndexReport, SourceFile
from codequest.workspace import Workspace, kept_if_failed

if TYPE_CHECKING:
    from codequest.index.embedding import Embedder

log = logging.getLogger(__name__)

OVERLAY_DIR = "overlay"


class _OverlayStore(Store):
    """A writable store that also reuses the base's vectors by content hash."""

    fallback: Store | None = None

    def vector_for_hash(self, content_hash: str) -> np.ndarray | None:
        vector = super().vector_for_hash(content_hash)
        if vector is None and self.fallback is not None:
            vector = self.fallback.vector_for_hash(content_hash)
        return vector


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
        embedder: Embedder | None = None,
    ) -> None:
        super().__init__(
            root,
            config,
            document_encoder=document_encoder,
            query_encoder=query_encoder,
            embedder=embedder,
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
        key = base_key(self.prebuilt, base)
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
            with self.document_encoders(base.dim, cancel) as encoders, kept_if_failed(overlay):
                report = index_workspace(
                    self.root,
                    self.config,
                    overlay,
                    encoders,
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
    embedder: Embedder | None = None,
) -> Workspace:
    """A :class:`LayeredWorkspace` when ``config.index_path`` is set, else a plain one."""
    cls = LayeredWorkspace if config is not None and config.index_path else Workspace
    return cls(
        root,
        config,
        document_encoder=document_encoder,
        query_encoder=query_encoder,
        embedder=embedder,
    )
