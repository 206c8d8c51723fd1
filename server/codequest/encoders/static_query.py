"""A static query encoder: token-embedding lookup, mean, a learned map. Numpy only.

The artifact folder holds ``card.json`` (``"encoder": "static"``), ``tokenizer.json``, the
token table (``table.npy``, rows per token id) and the map into the teacher's space
(``map.npz``: ``W``, ``b`` and, for the residual MLP, ``W1``, ``b1``, ``W2``, ``b2``).
Encoding one query is a tokenizer call, a gather, a mean and two small matrix products,
so it takes tens of microseconds and needs no ONNX Runtime.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.base import normalize_rows
from codequest.errors import EncoderError


def apply_map(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The numpy twin of ``codequest.distill.modules.Map`` (linear or residual MLP)."""
    y = x @ arrays["W"] + arrays["b"]
    if "W1" in arrays:
        h = x @ arrays["W1"] + arrays["b1"]
        # GELU, tanh form (the map is trained with ``approximate="tanh"``).
        h = 0.5 * h * (1.0 + np.tanh(0.7978845608028654 * (h + 0.044715 * h * h * h)))
        y = y + h @ arrays["W2"] + arrays["b2"]
    return y


def static_features(tokenizer: Any, table: np.ndarray, texts: list[str]) -> np.ndarray:
    """Mean of the table rows of each text's tokens (no special tokens); zeros if none."""
    out = np.zeros((len(texts), table.shape[1]), np.float32)
    for i, encoding in enumerate(tokenizer.encode_batch(texts, add_special_tokens=False)):
        ids = encoding.ids[:512]
        if ids:
            out[i] = table[ids].astype(np.float32).mean(0)
    return out


class StaticQueryEncoder:
    """Implements :class:`~codequest.encoders.base.QueryEncoder` without torch or ONNX."""

    # Numpy releases the GIL only inside its larger kernels; these are tiny.
    releases_gil = False
    loaded = True
    note = ""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        try:
            card = json.loads((self.folder / "card.json").read_text(encoding="utf-8"))
            self._table = np.load(self.folder / str(card.get("table_file", "table.npy")))
            with np.load(self.folder / str(card.get("map_file", "map.npz"))) as data:
                self._map = {k: np.asarray(data[k], np.float32) for k in data.files}
            self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as err:
            raise EncoderError(f"could not load static query encoder {self.folder}: {err}") from err
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.card: dict[str, Any] = card
        self.teacher_identity: str = str(card["teacher"])
        self.name: str = str(card.get("name", self.folder.name))
        self.dim: int = int(card["dim"])

    def encode_query(self, text: str) -> np.ndarray:
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids[:512]
        if not ids:
            return np.zeros(self.dim, np.float32)
        x = self._table[ids].astype(np.float32).mean(0, keepdims=True)
        return normalize_rows(apply_map(self._map, x))[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        x = static_features(self._tokenizer, self._table, texts)
        return normalize_rows(apply_map(self._map, x))
