"""Write a trained student as a query-encoder artifact, and rebuild one from a shipped delta.

Two forms of the same student:

- the *artifact* (``card.json`` + ``tokenizer.json`` + ``model.onnx``, or for a static
  student ``table.npy`` + ``map.npz``) is what the server loads;
- the *delta* (``card.json`` + ``delta.npz``: the map and, for LoRA students, the LoRA
  factors) is what the package ships. :func:`build_from_delta` combines it with the teacher's
  own weights into an artifact, once, with torch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.onnx_query import write_card

DELTA_FILE = "delta.npz"
# How a delta becomes a servable graph, as a number; part of the built folder's name, so a
# student built by an older recipe is built again. 1: plain export, then int8. 2: attention
# and layer norms fused (modules.fuse_attention) before int8.
BUILD_RECIPE = 2


def delta_arrays(
    map_arrays: dict[str, np.ndarray], lora: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    out = {f"map.{k}": np.asarray(v, np.float32) for k, v in map_arrays.items()}
    out.update({f"lora.{k}": np.asarray(v, np.float32) for k, v in lora.items()})
    return out


def split_delta(
    arrays: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    mapping = {k[4:]: v for k, v in arrays.items() if k.startswith("map.")}
    lora = {k[5:]: v for k, v in arrays.items() if k.startswith("lora.")}
    return mapping, lora


def write_delta(folder: Path, card: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write the shippable form; float16 keeps it a few hundred KB."""
    folder.mkdir(parents=True, exist_ok=True)
    half: dict[str, Any] = {k: v.astype(np.float16) for k, v in arrays.items()}
    np.savez_compressed(folder / DELTA_FILE, **half)
    write_card(folder, {**card, "delta_file": DELTA_FILE})
    return folder


def delta_digest(folder: Path) -> str:
    """Names a student's built artifact: its card, its weights and the build recipe."""
    h = hashlib.blake2b(digest_size=6)
    h.update(b"build-recipe-%d" % BUILD_RECIPE)
    for name in ("card.json", DELTA_FILE):
        if (folder / name).is_file():
            h.update((folder / name).read_bytes())
    return h.hexdigest()


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
    from codequest.distill import require_training_deps

    require_training_deps()
    mapping, lora = split_delta({k: np.asarray(v, np.float32) for k, v in arrays.items()})
    base = card["base"]
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        if base["kind"] == "static":
            if static_table is None:
                from codequest.distill.train import distilled_table

                static_table, static_tokenizer = distilled_table(
                    teacher_path, int(base["pca_dims"])
                )
            np.save(work / "table.npy", np.asarray(static_table, np.float32))
            map_arrays: dict[str, Any] = dict(mapping)
            np.savez(work / "map.npz", **map_arrays)
            static_tokenizer.save(str(work / "tokenizer.json"))
            extra: dict[str, Any] = {
                "encoder": "static",
                "table_file": "table.npy",
                "map_file": "map.npz",
            }
        elif base["kind"] == "cut":
            from transformers import AutoTokenizer

            from codequest.distill.modules import (
                CutStudent,
                Map,
                apply_lora_delta,
                cut_teacher,
                export_onnx,
            )

            keep = [int(i) for i in base.get("keep", [])]
            # Eager attention exports a graph whose attention ONNX Runtime can fuse.
            transformer = cut_teacher(teacher_path, int(base["layers"]), keep, attention="eager")
            if lora:
                apply_lora_delta(transformer, lora)
            module_map = Map(int(base["dim"]), int(card["dim"]), str(card["map"]))
            module_map.load_numpy(mapping)
            int8 = base.get("precision") == "int8"
            export_onnx(CutStudent(transformer, module_map), work / "model.onnx", int8=int8)
            tokenizer = AutoTokenizer.from_pretrained(teacher_path, trust_remote_code=False)
            tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
            extra = {
                "encoder": "onnx",
                "onnx_file": "model.onnx",
                "max_seq_length": 128,
                "build_recipe": BUILD_RECIPE,
            }
        else:
            raise ValueError(f"base {base['kind']!r} cannot be served as an artifact")
        write_card(work, {**{k: v for k, v in card.items() if k != "card_version"}, **extra})
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def build_from_delta(delta_folder: Path, teacher_path: str, target: Path) -> Path:
    from codequest.encoders.teacher import quiet_model_loading

    # A shipped student is built at its first use, inside `codequest search` or the server:
    # transformers' load report would read like an error there.
    quiet_model_loading()
    card = json.loads((delta_folder / "card.json").read_text(encoding="utf-8"))
    with np.load(delta_folder / str(card.get("delta_file", DELTA_FILE))) as data:
        arrays = {k: np.asarray(data[k], np.float32) for k in data.files}
    return build_artifact(card, arrays, teacher_path, target)
