"""Settings from the editor: ``initializationOptions`` and ``workspace/didChangeConfiguration``.

Both carry the camelCase keys of :class:`codequest.config.Config`, either at the top level
or under a ``codequest`` section (``{"codequest": {"maxResults": 10}}``). A changed
setting is applied on top of the ``initializationOptions``, so a client that sends only
what changed does not reset the rest. Every invalid value is reported (the server shows
it as a warning) and replaced by its default; parsing never raises.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from codequest.config import Config

SECTION = "codequest"

# Settings whose change makes the stored index stale or moves it: the folders are re-indexed.
INDEX_SETTINGS = frozenset(
    {
        "model",
        "cache_dir",
        "exclude",
        "max_file_bytes",
        "max_files",
        "max_chunks",
        "follow_symlinks",
        "index_path",
    }
)
# Settings the resident query encoder depends on: it is loaded again.
QUERY_ENCODER_SETTINGS = frozenset({"model", "query_encoder"})


def section(raw: Any) -> Any:
    """The ``codequest`` section of a settings object, or the object itself."""
    if isinstance(raw, Mapping) and isinstance(raw.get(SECTION), Mapping):
        return raw[SECTION]
    return raw


def parse_settings(raw: Any, *, base: Config | None = None) -> tuple[Config, list[str]]:
    """Parse settings; returns the config and one message per problem (empty when fine)."""
    raw = section(raw)
    if raw is None:
        return base or Config(), []
    if not isinstance(raw, Mapping):
        kind = "a list" if isinstance(raw, list) else type(raw).__name__
        return base or Config(), [f"settings must be an object, got {kind}; using defaults"]
    return Config.from_mapping(raw, base=base)


def folder_config(config: Config, folder: Path) -> Config:
    """The settings for one workspace folder.

    A relative ``cacheDir`` is relative to each folder already. An absolute one (often a
    user-wide setting) gets one subfolder per workspace folder, named after the folder and
    a hash of its path, so two projects never share, and overwrite, one index.
    """
    if not config.cache_dir:
        return config
    base = Path(os.path.expanduser(config.cache_dir))
    if not base.is_absolute():
        return config
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", folder.name).strip("_")[:40] or "folder"
    digest = hashlib.blake2b(str(folder).encode("utf-8", "surrogatepass"), digest_size=4)
    return replace(config, cache_dir=str(base / f"{name}-{digest.hexdigest()}"))


def changed_settings(old: Config, new: Config) -> set[str]:
    return {f.name for f in fields(Config) if getattr(old, f.name) != getattr(new, f.name)}
