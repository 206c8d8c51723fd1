"""Build a servable query encoder from a shipped student's delta, without training libraries.

A shipped student is a *delta* (``card.json`` + ``delta.npz``: the map and, for LoRA
students, the LoRA factors, in float16). Serving needs an *artifact* (``card.json`` +
``tokenizer.json`` + ``model.onnx``). :func:`build_from_delta` turns one into the other
with torch, transformers, onnx and onnxruntime, which ``pip install codequest`` brings;
peft and model2vec (the ``train`` extra) are only for training.

Importing this module imports numpy only. The torch side lives in
:mod:`codequest.encoders.student_graph` and is imported when a build runs, so naming and
finding a built artifact (:func:`delta_digest`) stays cheap on the query path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.onnx_query import write_card

DELTA_FILE = "delta.npz"
# How a delta becomes a servable graph, as a number; part of the built folder's name, so a
# student built by an older recipe is built again. 1: plain export, then int8. 2: attention
# and layer norms fused (student_graph.fuse_attention) before int8.
BUILD_RECIPE = 2
MAX_SEQ_LENGTH = 128


def delta_digest(folder: Path) -> str:
    """Names a student's built artifact: its card, its weights and the build recipe."""
    h = hashlib.blake2b(digest_size=6)
    h.update(b"build-recipe-%d" % BUILD_RECIPE)
    for name in ("card.json", DELTA_FILE):
        if (folder / name).is_file():
            h.update((folder / name).read_bytes())
    return h.hexdigest()


def split_delta(
    arrays: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``map.*`` and ``lora.*`` arrays of a delta, without their prefixes."""
    mapping = {k[4:]: v for k, v in arrays.items() if k.startswith("map.")}
    lora = {k[5:]: v for k, v in arrays.items() if k.startswith("lora.")}
    return mapping, lora


def read_delta(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A shipped student's card and its arrays, widened to float32."""
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    with np.load(folder / str(card.get("delta_file", DELTA_FILE))) as data:
        arrays = {k: np.asarray(data[k], np.float32) for k in data.files}
    return card, arrays


@contextlib.contextmanager
def staged_folder(target: Path, *, replace: bool) -> Iterator[Path]:
    """A temporary folder beside ``target`` that becomes ``target`` when the block succeeds.

    ``replace`` overwrites an existing ``target`` (a trainer rewriting its own output); without
    it, a finished ``target`` that another process built meanwhile is kept, since it is the
    same build.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        yield work
        if (target / "card.json").is_file() and not replace:
            return
        if target.exists():
            shutil.rmtree(target)
        try:
            work.rename(target)
        except OSError:
            if not (target / "card.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_cut_artifact(
    card: dict[str, Any],
    arrays: dict[str, np.ndarray],
    teacher_path: str,
    target: Path,
    *,
    replace: bool = True,
) -> Path:
    """Build the artifact of a ``cut`` student (kept teacher layers, merged LoRA, a map)."""
    from transformers import AutoTokenizer

    from codequest.encoders.student_graph import (
        CutStudent,
        Map,
        apply_lora_delta,
        cut_teacher,
        export_student,
    )

    base = card["base"]
    if base.get("kind") != "cut":
        raise ValueError(f"base {base.get('kind')!r} is not a cut of the teacher")
    mapping, lora = split_delta({k: np.asarray(v, np.float32) for k, v in arrays.items()})
    keep = [int(i) for i in base.get("keep", [])]
    with staged_folder(target, replace=replace) as work:
        # Eager attention exports a graph whose attention ONNX Runtime can fuse.
        transformer = cut_teacher(teacher_path, int(base["layers"]), keep, attention="eager")
        if lora:
            apply_lora_delta(transformer, lora)
        module_map = Map(int(base["dim"]), int(card["dim"]), str(card.get("map", "linear")))
        module_map.load_numpy(mapping)
        int8 = base.get("precision") == "int8"
        export_student(CutStudent(transformer, module_map), work / "model.onnx", int8=int8)
        AutoTokenizer.from_pretrained(teacher_path, trust_remote_code=False).backend_tokenizer.save(
            str(work / "tokenizer.json")
        )
        extra = {
            "encoder": "onnx",
            "onnx_file": "model.onnx",
            "max_seq_length": MAX_SEQ_LENGTH,
            "build_recipe": BUILD_RECIPE,
        }
        write_card(work, {**{k: v for k, v in card.items() if k != "card_version"}, **extra})
    return target


def build_from_delta(delta_folder: Path, teacher_path: str, target: Path) -> Path:
    """Build a shipped student's artifact into ``target`` (a process that finds it built by
    another meanwhile keeps that one)."""
    from codequest.encoders.teacher import quiet_model_loading

    # A shipped student is built at its first use, inside `codequest search` or the server:
    # transformers' load report would read like an error there.
    quiet_model_loading()
    card, arrays = read_delta(delta_folder)
    return build_cut_artifact(card, arrays, teacher_path, target, replace=False)
