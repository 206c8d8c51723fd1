"""Distilled query encoders: a small student that embeds queries into the teacher's space.

Training needs the ``train`` extra (torch, peft, model2vec); importing the training modules
without it raises an error that says ``pip install codequest[train]``. The mined data,
evaluation sets and metrics (``mine``, ``evalsets``) need no torch.
"""

from __future__ import annotations

import sys

TRAIN_HINT = "distillation needs the training extra: pip install 'codequest[train]'"


def require_training_deps() -> None:
    """Raise ImportError with the install hint when torch/peft/model2vec are missing."""
    missing = []
    for module in ("torch", "peft", "model2vec"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(f"{TRAIN_HINT} (missing: {', '.join(missing)})")


def say(message: str) -> None:
    """One line of training progress, on stderr."""
    print(message, file=sys.stderr, flush=True)
