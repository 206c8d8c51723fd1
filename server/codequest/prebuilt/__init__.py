"""Prebuilt, shared indexes: a read-only base built at a git commit, plus a local overlay.

A prebuilt index is an ordinary store folder (paths relative to the indexed root) whose
``extra["prebuilt"]`` records the commit it was built at. ``codequest index PATH --output
DIR`` writes one; CI can publish it next to the commit.

A consumer (``indexPath`` setting, ``--index DIR``) opens it read-only, memory-mapped
(usearch ``Index.view``), and keeps a small writable overlay store in its own cache folder
with only the files that differ from the base: edited and new files since the commit. Base
files that were changed or deleted are *masked*: their chunks never reach a result list.
:class:`~codequest.index.layered.LayeredStore` presents base + overlay to search as one
store, so ranking sees one candidate pool and one lexical vocabulary.

A base that cannot be used (another model, another format version, a commit that is not an
ancestor of the checkout) is refused with a one-line reason, and the workspace falls back
to indexing locally.

* :mod:`.base`: building one (``codequest index --output``) and opening one read-only;
* :mod:`.workspace`: ``LayeredWorkspace``, which indexes only what differs into the overlay;
* :mod:`.git`: the git questions that decides (HEAD, ancestry, changed paths).
"""

from __future__ import annotations

from codequest.prebuilt.base import PREBUILT_FORMAT, PREBUILT_KEY, build_prebuilt, open_base
from codequest.prebuilt.workspace import OVERLAY_DIR, LayeredWorkspace, open_workspace

__all__ = [
    "OVERLAY_DIR",
    "PREBUILT_FORMAT",
    "PREBUILT_KEY",
    "LayeredWorkspace",
    "build_prebuilt",
    "open_base",
    "open_workspace",
]
