"""The resident query encoder: an ONNX graph under ONNX Runtime plus a `tokenizers` tokenizer.

This module must not import torch: it is the query path. The graph takes ``input_ids``,
``attention_mask`` and ``token_type_ids`` and returns the pooled, L2-normalised sentence
embedding, so the Python side only tokenizes and runs one session call (a few times faster
than the same model under torch, docs/measurements.md).

An artifact folder holds ``model.onnx``, ``tokenizer.json`` and ``card.json`` (teacher
identity, shape, how it was made). The teacher's own export (the "compact" adaptation) and
distilled students share this layout.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codequest.errors import EncoderError

if TYPE_CHECKING:
    import onnxruntime

CARD_VERSION = 1


def default_threads() -> int:
    # One thread. A search encodes the query on one core while BM25 and the symbol table run
    # on another (codequest.search), so a second ONNX Runtime thread only competes with
    # them; and its pool thread either spins between queries (doubling the server's CPU per
    # search under load) or pays a wake-up per query (docs/measurements.md).
    return 1


def cpu_session(
    model: Path, threads: int, *, what: str, arena: bool = True
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on the CPU with ``threads`` that never spin, or an
    :class:`EncoderError` naming ``what`` could not be loaded.

    ONNX Runtime's pool threads spin for a while after each call by default. Queries and
    edits arrive seconds apart, on a machine that is also running the editor and the
    indexer: spinning burns a core for nothing and, under load, costs more server CPU per
    call than it saves (docs/measurements.md). ``arena=False`` gives each run's
    activations back when it ends, rather than keeping the largest batch's resident.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = arena
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise EncoderError(f"could not load {what} {model.parent}: {err}") from err


class OnnxQueryEncoder:
    """Embeds one query at a time with ONNX Runtime."""

    # ONNX Runtime runs the graph without the GIL, so while a search encodes the query,
    # another thread can score BM25 and the symbol table (codequest.search).
    releases_gil = True
    loaded = True

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        threads: int | None = None,
        name: str | None = None,
        note: str = "",
    ) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        card_path = self.folder / "card.json"
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise EncoderError(
                f"query encoder at {self.folder} has no readable card.json: {err}"
            ) from err
        if card.get("card_version") != CARD_VERSION:
            raise EncoderError(
                f"query encoder at {self.folder} has card version {card.get('card_version')!r}, "
                f"expected {CARD_VERSION}"
            )
        self.card: dict[str, Any] = card
        self.teacher_identity: str = str(card["teacher"])
        # ``name`` overrides the card's, so the teacher's exports are called by the
        # ``queryEncoder`` value that picks them (``teacher-int8``).
        self.name: str = name or str(card.get("name", self.folder.name))
        # Why this encoder answers instead of the one asked for (empty: it is that one).
        self.note = note
        self.dim: int = int(card["dim"])
        max_length = int(card.get("max_seq_length", 128))

        self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)

        self._session = cpu_session(
            self.folder / str(card.get("onnx_file", "model.onnx")),
            threads or default_threads(),
            what="ONNX query encoder",
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._token_types = "token_type_ids" in self._inputs

    def encode_query(self, text: str) -> np.ndarray:
        ids = np.array(self._tokenizer.encode(text).ids, dtype=np.int64).reshape(1, -1)
        feed = {"input_ids": ids, "attention_mask": np.ones(ids.shape, np.int64)}
        if self._token_types:
            feed["token_type_ids"] = np.zeros(ids.shape, np.int64)
        (output,) = self._session.run(None, feed)
        # The graph L2-normalises already (export.py); normalising again guards artifacts
        # made elsewhere. One vector: a dot product, not np.linalg.norm's general path,
        # which is slower, on the search's critical path.
        vector = np.asarray(output, dtype=np.float32).reshape(-1)
        norm = math.sqrt(float(vector @ vector))
        return vector / norm if norm > 1e-12 else vector

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.encode_query(t) for t in texts]) if texts else np.zeros((0, self.dim))


def write_card(folder: Path, card: dict[str, Any]) -> None:
    card = {"card_version": CARD_VERSION, **card}
    (folder / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True), encoding="utf-8")
