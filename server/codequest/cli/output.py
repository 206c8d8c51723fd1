"""What the command line prints besides results: progress, and the libraries kept quiet.

Without ``--debug`` the libraries' warnings and log chatter stay off the terminal and only
CodeQuest's own lines are printed, one ``codequest: ...`` line per log record.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator

DEBUG_ENV = "CODEQUEST_DEBUG"
# Libraries that log warnings of their own at import or model load; CodeQuest reports what
# matters to the user itself.
THIRD_PARTY_LOGGERS = (
    "transformers",
    "sentence_transformers",
    "peft",
    "torch",
    "onnx",
    "onnxruntime",
    "huggingface_hub",
    "model2vec",
    "ray",
)


class Progress:
    """A one-line progress bar on stderr when it is a terminal; quiet otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\rindexing [{bar}] {message}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@contextlib.contextmanager
def quiet_libraries(debug: bool) -> Iterator[None]:
    """Keep third-party warnings and log records off the terminal, unless ``debug``."""
    with warnings.catch_warnings():
        levels = {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
        if not debug:
            warnings.simplefilter("ignore")
            for name in THIRD_PARTY_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def log_lines(debug: bool) -> Iterator[None]:
    """CodeQuest's own log records as one ``codequest: ...`` line each on stderr, for the
    duration of a command; other records only with ``debug``, named.

    Without a handler of its own, the root logger would print third-party records through
    logging's last resort. (The language server configures its own log instead.)
    """
    ours = logging.getLogger("codequest")
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("codequest: %(message)s"))
    others: logging.Handler = logging.NullHandler()
    if debug:
        others = logging.StreamHandler(sys.stderr)
        others.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        others.setLevel(logging.WARNING)
    saved = (ours.level, ours.propagate)
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG if debug else logging.WARNING)
    ours.propagate = False
    root.addHandler(others)
    try:
        yield
    finally:
        ours.removeHandler(handler)
        ours.setLevel(saved[0])
        ours.propagate = saved[1]
        root.removeHandler(others)


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def debug_enabled(args: argparse.Namespace | None = None) -> bool:
    flag = bool(getattr(args, "debug", False))
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")
