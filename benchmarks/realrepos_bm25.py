"""Raw BM25 for the real-repository benchmark: the set's own baseline, ported.

A port of ``tools/eval.py --baseline bm25`` (keep it identical; a test checks it against
that class): the code files under a repository's ``benchmark_root`` (``git ls-files``,
known code extensions, at most 1 MB), cut into 50-line windows; each window's tokens are
its identifiers with their camelCase and snake_case parts plus the file's path tokens; the
scores are ``bm25s`` (Lucene BM25, k1 1.5, b 0.75). No ranking, no embeddings: the floor
every system on this set should clear.

``bm25s`` is an optional dependency (the ``dev`` and ``bench`` extras): without it,
:func:`load_bm25s` raises :class:`BM25Unavailable` with the install hint.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from codequest.metrics import Location

CODE_EXTS = {
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".go", ".rs",
    ".java", ".kt", ".kts", ".scala", ".swift", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh",
    ".cs", ".rb", ".php", ".ex", ".exs", ".hs", ".lua", ".zig", ".sh", ".bash", ".dart", ".m",
    ".mm",
}  # fmt: skip
SKIP_DIRS = {
    ".git", "node_modules", "__pycache__", ".venv", "venv", "dist", "build", "target", ".tox",
}  # fmt: skip
MAX_FILE_BYTES = 1_000_000
WINDOW_LINES = 50
K1, B = 1.5, 0.75

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL_PART_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


class BM25Unavailable(RuntimeError):
    """``bm25s`` is not installed."""


def load_bm25s() -> ModuleType:
    try:
        import bm25s
    except ImportError as err:
        raise BM25Unavailable(
            "the BM25 baseline needs bm25s: pip install bm25s (or the dev or bench extra)"
        ) from err
    return bm25s


def code_tokens(text: str) -> list[str]:
    """Lower-cased identifiers, plus their camelCase / snake_case parts."""
    out: list[str] = []
    for ident in _IDENT_RE.findall(text):
        out.append(ident.lower())
        parts = [p.lower() for piece in ident.split("_") for p in _CAMEL_PART_RE.findall(piece)]
        if len(parts) > 1:
            out.extend(parts)
    return out


def path_tokens(rel: str) -> list[str]:
    """The file's stem twice and its last three folders."""
    stem = Path(rel).stem
    dirs = [d for d in Path(rel).parent.parts[-3:] if d not in (".", "/")]
    return code_tokens(" ".join([stem, stem, *dirs]))


def list_code_files(checkout: Path, benchmark_root: str | None) -> list[str]:
    """Repository-relative code files under ``benchmark_root`` (git-tracked when possible)."""
    bench = checkout / benchmark_root if benchmark_root else checkout
    try:
        out = subprocess.run(
            ["git", "-C", str(bench), "ls-files", "-z", "--", "."], capture_output=True, check=True
        ).stdout.decode("utf-8", "replace")
        rels = [x for x in out.split("\0") if x]
    except (subprocess.CalledProcessError, FileNotFoundError):
        rels = []
        for dirpath, dirnames, filenames in os.walk(bench):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
            rels += [os.path.relpath(os.path.join(dirpath, fn), bench) for fn in filenames]
    prefix = f"{benchmark_root}/" if benchmark_root else ""
    files = []
    for rel in sorted(rels):
        if any(part in SKIP_DIRS for part in rel.split("/")[:-1]):
            continue
        if os.path.splitext(rel)[1].lower() not in CODE_EXTS:
            continue
        full = bench / rel
        if not full.is_file() or full.stat().st_size > MAX_FILE_BYTES:
            continue
        files.append(prefix + rel)
    return files


@dataclass(frozen=True, slots=True)
class Window:
    path: str  # repository-relative
    start: int  # 1-based, inclusive
    end: int
    text: str


def windows(rel: str, text: str, lines_per: int = WINDOW_LINES) -> list[Window]:
    """Consecutive ``lines_per``-line windows (no overlap), the last one shorter."""
    lines = text.splitlines()
    out = []
    for start in range(0, len(lines), lines_per):
        end = min(len(lines), start + lines_per)
        out.append(Window(rel, start + 1, end, "\n".join(lines[start:end])))
        if end == len(lines):
            break
    return out


class BM25Windows:
    """BM25 over one repository's windows; :meth:`search` returns repository-relative hits."""

    def __init__(self, checkout: Path, benchmark_root: str | None) -> None:
        import numpy as np

        bm25s = load_bm25s()
        self._np = np
        self.windows: list[Window] = []
        for rel in list_code_files(checkout, benchmark_root):
            try:
                text = (checkout / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            self.windows += windows(rel, text)
        corpus = [(code_tokens(w.text) + path_tokens(w.path)) or [""] for w in self.windows]
        self.retriever: Any = bm25s.BM25(k1=K1, b=B)
        self.retriever.index(corpus, show_progress=False)
        self.vocab = self.retriever.vocab_dict

    def search(self, query: str, k: int = 10) -> list[Location]:
        np = self._np
        tokens = [t for t in code_tokens(query) if t in self.vocab]
        if not tokens:
            return []
        scores = self.retriever.get_scores(tokens)
        n = min(k, len(scores))
        idx = np.argpartition(-scores, n - 1)[:n]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [
            (self.windows[i].path, self.windows[i].start, self.windows[i].end)
            for i in idx
            if scores[i] > 0
        ]
