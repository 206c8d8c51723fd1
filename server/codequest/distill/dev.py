"""Model selection on CoSQA dev: NDCG@10 of a student's vectors, or of the artifact the
server would load (exported and quantised)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from codequest.distill.artifact import build_artifact, delta_arrays
from codequest.distill.evalsets import metrics_from_ranked, rankings
from codequest.distill.specs import DevSet, StudentSpec


def dev_ndcg(dev: DevSet, vectors: np.ndarray) -> float:
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    top = rankings(v, dev.doc_vectors, 10)
    ranked = [[dev.doc_ids[j] for j in row] for row in top]
    return metrics_from_ranked(ranked, dev.ids, dev.qrels)["ndcg@10"]


def served_dev_ndcg(
    spec: StudentSpec,
    map_arrays: dict[str, np.ndarray],
    lora: dict[str, np.ndarray],
    dev: DevSet,
    *,
    teacher_path: str,
    folder: Path,
    threads: int,
) -> float:
    """Dev NDCG@10 of the artifact the server would load (export, quantise, ONNX Runtime)."""
    from codequest.encoders.onnx_query import OnnxQueryEncoder

    card = {
        "name": spec.name,
        "teacher": "selection",
        "dim": int(map_arrays["W"].shape[1]),
        "base": spec.served_base(int(map_arrays["W"].shape[0])),
        "map": spec.map,
    }
    build_artifact(card, delta_arrays(map_arrays, lora), teacher_path, folder)
    try:
        encoder = OnnxQueryEncoder(folder, threads=threads)
        return dev_ndcg(dev, encoder.encode_queries(dev.queries))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
