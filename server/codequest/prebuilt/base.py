"""Building a prebuilt index, and opening one as the read-only base of a workspace."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from codequest.config import Config
from codequest.encoders import DOCUMENT_RECIPE, DocumentEncoder
from codequest.errors import PrebuiltError, StoreError
from codequest.index.indexer import ProgressFn
from codequest.index.persist import META_FILE, writer_lock
from codequest.index.store import Store
from codequest.prebuilt.git import check_ancestor, git_head, git_is_dirty, git_subdir
from codequest.types import IndexReport
from codequest.workspace import Workspace

PREBUILT_FORMAT = 1
PREBUILT_KEY = "prebuilt"


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


def base_key(info: dict[str, Any], base: Store) -> str:
    """What an overlay records of the base it belongs to."""
    return f"{info['commit']}:{base.generation}:{info.get('created')}"
