"""Training checkpoints that ``torch.load(weights_only=True)`` reads back: tensors,
containers and Python numbers only, never pickled code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codequest.distill import require_training_deps, say

require_training_deps()

import torch  # noqa: E402

# The arrays of the training state that a checkpoint keeps as tensors.
_STATE_ARRAYS = ("best_map", "best_lora")


def _plain(value: Any) -> Any:
    """Numpy arrays as tensors and numpy scalars as numbers, in nested dicts and lists."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write a checkpoint that ``torch.load(weights_only=True)`` reads back: tensors,
    containers and Python numbers only."""
    torch.save({**payload, "state": _plain(payload["state"])}, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """A checkpoint written by :func:`save_checkpoint`, read without unpickling code; None
    (start over) for one that needs more, such as one written before checkpoints were
    weights-only."""
    import pickle

    try:
        saved = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        say(f"[distill] ignoring checkpoint {path}: {str(err).splitlines()[0]}")
        return None
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
        return None
    state = saved["state"]
    for name in _STATE_ARRAYS:
        if name in state:
            state[name] = {k: v.numpy() for k, v in state[name].items()}
    return saved
