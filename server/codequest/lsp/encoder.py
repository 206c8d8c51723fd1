"""The resident query encoder: loaded once, in the background, shared by every folder.

Loading an ONNX query encoder takes a moment, and its first call is slower than the rest
(memory arenas, kernels). The server starts loading it right after ``initialize`` and runs
one dummy query through it, so the user's first search is as fast as the tenth. Every
folder's :class:`~codequest.workspace.Workspace` gets the same :class:`SharedQueryEncoder`;
a search that arrives before the model is ready waits for it, in its worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from codequest.config import Config
from codequest.encoders import (
    QueryEncoder,
    document_encoder_identity,
    load_query_encoder,
    query_encoder_needs_build,
)
from codequest.encoders.worker import prepare_models
from codequest.errors import EncoderError

log = logging.getLogger(__name__)

WARM_UP_QUERY = "how is the configuration file parsed"
# How long a search waits for a query encoder that is still loading (a first-time ONNX
# export of the teacher can take a minute).
LOAD_WAIT = 180.0


class SharedQueryEncoder:
    """A :class:`~codequest.encoders.QueryEncoder` that is loaded by :meth:`load`."""

    def __init__(
        self, config: Config, *, on_loaded: Callable[[str, bool], None] | None = None
    ) -> None:
        self.config = config
        # Told, once loading ends, one line for the user and whether it is a warning.
        self._on_loaded = on_loaded
        self.teacher = ""  # the document encoder's identity, known once loading starts
        self._ready = threading.Event()
        self._encoder: QueryEncoder | None = None
        self.error = ""
        self.load_seconds = 0.0

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        """Load and warm up the encoder; errors are kept for :meth:`get` to raise."""
        started = time.perf_counter()
        try:
            self.teacher = document_encoder_identity(self.config)
            if query_encoder_needs_build(self.config, self.teacher):
                # Built once per machine, with torch: in a child, so this process never
                # imports it (what it maps stays mapped for the server's whole life).
                prepare_models(self.config, "query")
            encoder = load_query_encoder(self.config, self.teacher)
            encoder.encode_query(WARM_UP_QUERY)
            self._encoder = encoder
        except Exception as err:  # noqa: BLE001 - any failure is reported, not raised here
            self.error = f"cannot load the query encoder for {self.config.model!r}: {err}"
            log.warning("%s", self.error)
        finally:
            self.load_seconds = time.perf_counter() - started
            self._ready.set()
        if self._on_loaded is not None:
            self._on_loaded(*self.summary())

    def summary(self) -> tuple[str, bool]:
        """One line naming the encoder that answers queries (or why none does), and whether
        it is a warning: not the encoder asked for, or none at all."""
        encoder = self._encoder
        if encoder is None:
            return f"CodeQuest: {self.error}", True
        if encoder.note:
            return f"CodeQuest: {encoder.note}", True
        return (
            f"CodeQuest: query encoder {encoder.name} (loaded in {self.load_seconds:.1f} s)",
            False,
        )

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="codequest-query-encoder", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._encoder is not None

    @property
    def loaded(self) -> bool:
        """Whether loading has ended, so :meth:`get` returns or raises without waiting."""
        return self._ready.is_set()

    def get(self, timeout: float | None = None) -> QueryEncoder:
        if not self._ready.wait(timeout):
            raise EncoderError("the query encoder is still loading")
        if self._encoder is None:
            raise EncoderError(self.error)
        return self._encoder

    def describe(self) -> str:
        """For ``codequest.status``: the encoder's name, or why there is none yet."""
        if not self._ready.is_set():
            return "loading"
        if self._encoder is None:
            return f"unavailable: {self.error}"
        return str(self._encoder.name)

    # -- the QueryEncoder protocol -------------------------------------------------------
    @property
    def teacher_identity(self) -> str:
        return str(self.get().teacher_identity)

    @property
    def name(self) -> str:
        return self.describe()

    @property
    def releases_gil(self) -> bool:
        encoder = self._encoder if self.ready else None
        return encoder is not None and encoder.releases_gil

    @property
    def note(self) -> str:
        encoder = self._encoder if self.ready else None
        return encoder.note if encoder is not None else ""

    @property
    def dim(self) -> int:
        return int(self.get().dim)

    def encode_query(self, text: str) -> np.ndarray:
        return self.get(LOAD_WAIT).encode_query(text)
