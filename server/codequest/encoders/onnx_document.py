"""The teacher as a document encoder under ONNX Runtime: edits embedded without torch.

The language server embeds an edit (a file or a handful of files) in its own process with
this encoder, and leaves bulk indexing to a torch worker process
(:mod:`codequest.encoders.worker`). Both must give the same vectors, so this runs the
teacher's own ONNX export (:func:`codequest.encoders.export.export_teacher`, the graph
that ``teacher-onnx`` serves queries with): the transformer, mean pooling over the
attention mask and L2 normalisation, as sentence-transformers computes them, with the
model's own ``max_seq_length`` (256 for MiniLM), which the export's card records. The
texts are the same too: callers pass ``encoders.base.document_text`` of each chunk.

This module never imports torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.base import normalize_rows
from codequest.encoders.onnx_query import CARD_VERSION, cpu_session
from codequest.errors import EncoderError

# Texts are sorted by length and run in batches of at most this many tokens (padding
# included), so a batch of long chunks stays small: attention over 256 tokens is what
# costs memory. At 4,096 the process peaked about 300 MB higher than at 1,024, for no more
# chunks a second (docs/indexing.md).
BATCH_TOKENS = 1024
MAX_BATCH = 32


def document_threads() -> int:
    """Every core, up to four: the user waits for an edit's few chunks, and two threads
    embed them in about half the time of one (docs/indexing.md). The threads do not spin
    between edits, so a search that arrives meanwhile waits a time slice at most."""
    return max(1, min(4, os.cpu_count() or 1))


class OnnxDocumentEncoder:
    """Embeds documents with the teacher's ONNX export (a :class:`DocumentEncoder`)."""

    device = "cpu"

    def __init__(self, folder: str | os.PathLike[str], *, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        try:
            card: dict[str, Any] = json.loads((self.folder / "card.json").read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise EncoderError(
                f"document encoder at {self.folder} has no readable card: {err}"
            ) from err
        if card.get("card_version") != CARD_VERSION or card.get("adaptation") != "compact":
            raise EncoderError(
                f"{self.folder} is not an export of the teacher (card version "
                f"{card.get('card_version')!r}, adaptation {card.get('adaptation')!r})"
            )
        self.card = card
        self.identity = str(card["teacher"])
        self.dim = int(card["dim"])
        self.max_seq_length = int(card["max_seq_length"])
        self.precision = str(card.get("precision", "fp32"))
        self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)

        # No arena: a batch's activations are not kept resident once the edit is embedded.
        self._session = cpu_session(
            self.folder / str(card.get("onnx_file", "model.onnx")),
            threads or document_threads(),
            what="ONNX document encoder",
            arena=False,
        )
        self._token_types = "token_type_ids" in {i.name for i in self._session.get_inputs()}

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        for batch in _batches(ids):
            out[batch] = self._run([ids[i] for i in batch])
            if on_batch is not None:
                on_batch(len(batch))
        return normalize_rows(out)

    def _run(self, rows: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if self._token_types:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (output,) = self._session.run(None, feed)
        return np.asarray(output, dtype=np.float32)


def _batches(ids: list[list[int]]) -> list[list[int]]:
    """Positions grouped into batches of similar length under :data:`BATCH_TOKENS`."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = len(ids[i])  # the longest so far: the order is ascending
        if current and (width * (len(current) + 1) > BATCH_TOKENS or len(current) >= MAX_BATCH):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
