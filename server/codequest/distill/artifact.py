"""Write a trained student as a query-encoder artifact, and as the delta the package ships.

Two forms of the same student:

- the *artifact* (``card.json`` + ``tokenizer.json`` + ``model.onnx``, or for a static
  student ``table.npy`` + ``map.npz``) is what the server loads;
- the *delta* (``card.json`` + ``delta.npz``: the map and, for LoRA students, the LoRA
  factors) is what the package ships. Serving rebuilds a ``cut`` student's artifact from it
  with :mod:`codequest.encoders.build`, which needs no training library; this module uses
  that same build, so what a trainer measures is what users get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.build import (
    BUILD_RECIPE,
    DELTA_FILE,
    build_cut_artifact,
    delta_digest,
    split_delta,
    staged_folder,
)
from codequest.encoders.onnx_query import write_card

__all__ = [
    "BUILD_RECIPE",
    "DELTA_FILE",
    "build_artifact",
    "delta_arrays",
    "delta_digest",
    "split_delta",
    "write_delta",
]


def delta_arrays(
    map_arrays: dict[str, np.ndarray], lora: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    out = {f"map.{k}": np.asarray(v, np.float32) for k, v in map_arrays.items()}
    out.update({f"lora.{k}": np.asarray(v, np.float32) for k, v in lora.items()})
    return out


def write_delta(folder: Path, card: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write the shippable form; float16 keeps it a few hundred KB."""
    folder.mkdir(parents=True, exist_ok=True)
    half: dict[str, Any] = {k: v.astype(np.float16) for k, v in arrays.items()}
    np.savez_compressed(folder / DELTA_FILE, **half)
    write_card(folder, {**card, "delta_file": DELTA_FILE})
    return folder


def build_artifact(
    card: dict[str, Any],
    arrays: dict[str, np.ndarray],
    teacher_path: str,
    target: Path,
    *,
    static_table: np.ndarray | None = None,
    static_tokenizer: Any = None,
) -> Path:
    """Build a servable artifact folder from a card, delta arrays and the teacher's weights."""
    base = card["base"]
    if base["kind"] == "cut":
        return build_cut_artifact(card, arrays, teacher_path, target)
    if base["kind"] != "static":
        raise ValueError(f"base {base['kind']!r} cannot be served as an artifact")
    from codequest.distill import require_training_deps

    require_training_deps()
    mapping, _ = split_delta({k: np.asarray(v, np.float32) for k, v in arrays.items()})
    with staged_folder(target, replace=True) as work:
        if static_table is None:
            from codequest.distill.bases import distilled_table

            static_table, static_tokenizer = distilled_table(teacher_path, int(base["pca_dims"]))
        np.save(work / "table.npy", np.asarray(static_table, np.float32))
        map_arrays: dict[str, Any] = dict(mapping)
        np.savez(work / "map.npz", **map_arrays)
        static_tokenizer.save(str(work / "tokenizer.json"))
        extra: dict[str, Any] = {
            "encoder": "static",
            "table_file": "table.npy",
            "map_file": "map.npz",
        }
        write_card(work, {**{k: v for k, v in card.items() if k != "card_version"}, **extra})
    return target
