"""The document encoder (teacher): a sentence-transformers model under torch.

Imported only for indexing, never on the query path. Picks the best device (cuda → mps →
cpu) and, on CPUs with bf16 matrix units (AMX or AVX512-BF16), runs under bf16 autocast:
much higher throughput at vectors all but equal to fp32 (docs/measurements.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from codequest.encoders.base import normalize_rows
from codequest.encoders.models import load_sentence_transformer, resolve_model
from codequest.errors import EncoderError, ModelNotFoundError

log = logging.getLogger(__name__)


def quiet_model_loading() -> None:
    """Silence load reports and progress bars from transformers; CodeQuest reports its own."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def cpu_has_bf16() -> bool:
    """True when the CPU has bf16 matrix/vector units (Linux /proc/cpuinfo flags)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"amx_bf16", "avx512_bf16"} & flags)
    except OSError:
        pass
    return False


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        if requested == "cuda" and not torch.cuda.is_available():
            raise EncoderError("device 'cuda' was requested but torch sees no CUDA GPU")
        if requested == "mps" and not torch.backends.mps.is_available():
            raise EncoderError("device 'mps' was requested but torch has no MPS backend")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class SentenceTransformerEncoder:
    """Embeds documents with a sentence-transformers model, batched by token length.

    As a query encoder (``queryEncoder: teacher``) it holds the GIL: torch's small calls
    leave no room for a second thread."""

    releases_gil = False
    loaded = True
    note = ""

    def __init__(
        self, model: str, *, device: str = "auto", batch_size: int = 32, bf16: bool | None = None
    ) -> None:
        try:
            resolved = resolve_model(model)
        except ModelNotFoundError as err:
            raise EncoderError(str(err)) from err
        quiet_model_loading()
        import torch

        self.device = pick_device(device)
        if self.device == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        try:
            self._model: Any = load_sentence_transformer(resolved, device=self.device)
        except Exception as err:  # noqa: BLE001 - surface one clear line to the user
            raise EncoderError(
                f"could not load model {model!r} from {resolved.path}: {err}"
            ) from err
        self.resolved = resolved
        self.identity = resolved.identity
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self.dim = int(dim or 0)
        self.batch_size = batch_size
        self.max_seq_length = int(self._model.max_seq_length or 256)
        self.bf16 = (self.device == "cpu" and cpu_has_bf16()) if bf16 is None else bf16
        if self.device == "cuda":
            self._model.half()

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers sorts each call by length, so padding stays small.
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)
        with torch.inference_mode(), autocast:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        if on_batch is not None:
            on_batch(len(texts))
        return normalize_rows(np.asarray(vectors, dtype=np.float32))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_documents([text])[0]

    @property
    def teacher_identity(self) -> str:
        return self.identity

    @property
    def name(self) -> str:
        return f"teacher-torch:{self.identity}"
