"""Incremental indexing: discover → chunk → reuse vectors by content hash → embed → store.

Memory stays bounded by the embedding batch, not by the repository: files are read one at
a time and their chunks wait only until the next batch is embedded. Unchanged files (same
size and mtime) are not even read, so a warm re-index never loads the model.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codequest.chunking import chunk_source
from codequest.config import Config
from codequest.discovery import discover, read_source
from codequest.encoders import DocumentEncoder, document_text
from codequest.errors import EmbeddingCancelled
from codequest.index.lexical import chunk_terms
from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.store import Store
from codequest.text import file_hash, line_units
from codequest.types import Chunk, IndexReport, SourceFile

# Chunks embedded per encoder call; sentence-transformers sorts each call by length.
EMBED_BATCH = 256
# The first batches are small and then double up to EMBED_BATCH, so an editor that searches
# while a cold index is being built gets its first semantic results within seconds.
FIRST_EMBED_BATCH = 16
CHECKPOINT_SECONDS = 30.0

ProgressFn = Callable[[int, int, str], None]


def chunk_record(chunk: Chunk, end_units: tuple[int, int, int]) -> ChunkRecord:
    """What the store keeps of a chunk (its id is given when it is stored).

    Its preview, the line a result list shows, is the line of the first definition in it
    (a chunk may open with imports or the end of the code before), else its first line of
    code. Where it holds several definitions, each other one keeps its own line: a result
    is named after the definition the query matches, often not the first."""
    heads = _definition_lines(chunk)
    preview = heads[0] if heads and heads[0] else preview_line(chunk.text)
    defines = chunk.defines
    if len(defines) > 1:
        defines = tuple(
            dataclasses.replace(d, preview=line) if line != preview else d
            for d, line in zip(defines, heads, strict=True)
        )
    return ChunkRecord(
        0,
        chunk.path,
        chunk.language,
        chunk.kind,
        chunk.symbol,
        chunk.start_line,
        chunk.end_line,
        chunk.content_hash,
        preview,
        end_units,
        defines,
    )


def _definition_lines(chunk: Chunk) -> list[str]:
    """Each definition's own line in the chunk, stripped ("" where it lies outside)."""
    if not chunk.defines:
        return []
    lines = chunk.text.split("\n")
    rows = (d.line - chunk.start_line for d in chunk.defines)
    return [lines[row].strip()[:160] if 0 <= row < len(lines) else "" for row in rows]


def preview_line(text: str) -> str:
    """The line a result list shows: the definition line, not a decorator or blank."""
    first = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not first:
            first = stripped
        if not stripped.startswith(("@", "#[", "//", "#", "/*", "*")):
            return stripped[:160]
    return first[:160]


@dataclass
class _PendingFile:
    source: SourceFile
    file_hash: str
    chunks: list[Chunk]
    vectors: list[np.ndarray | None]
    end_units: list[tuple[int, int, int]]  # per chunk: its end line's lengths


@dataclass
class _Run:
    store: Store
    encoder_factory: Callable[[], DocumentEncoder]
    progress: ProgressFn | None
    cancel: threading.Event | None
    encoder: DocumentEncoder | None = None
    pending: list[_PendingFile] = field(default_factory=list)
    pending_texts: int = 0  # chunks waiting to be embedded
    pending_chunks: int = 0  # all chunks waiting, embedded or reused: bounds memory
    pending_growth: int = 0  # how many chunks the store gains when pending is written
    doomed_chunks: int = 0  # chunks of vanished files, removed at the end of the run
    embedded: int = 0
    reused: int = 0
    changed: bool = False
    batch_limit: int = FIRST_EMBED_BATCH
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    last_save: float = field(default_factory=time.monotonic)

    def flush(self) -> None:
        """Embed what is pending and write those files into the store."""
        if not self.pending:
            return
        todo = [(pf, i) for pf in self.pending for i, vec in enumerate(pf.vectors) if vec is None]
        if todo:
            if self.encoder is None:
                started = time.perf_counter()
                self.encoder = self.encoder_factory()
                self.timings["model_load"] += time.perf_counter() - started
            started = time.perf_counter()
            texts = [document_text(pf.chunks[i]) for pf, i in todo]
            vectors = self.encoder.encode_documents(texts)
            self.timings["embedding"] += time.perf_counter() - started
            for (pf, i), vec in zip(todo, vectors, strict=True):
                pf.vectors[i] = vec
            self.embedded += len(todo)
        started = time.perf_counter()
        for pf in self.pending:
            records = [
                (chunk_record(c, units), chunk_terms(c.path, c.symbol, c.text))
                for c, units in zip(pf.chunks, pf.end_units, strict=True)
            ]
            dim = self.store.dim
            matrix = (
                np.stack([v for v in pf.vectors if v is not None])
                if pf.chunks
                else np.zeros((0, dim), np.float32)
            )
            src = pf.source
            self.store.put_file(
                FileRecord(src.path, src.language, pf.file_hash, src.size, src.mtime_ns, ()),
                records,
                matrix,
            )
        self.timings["writing"] += time.perf_counter() - started
        self.pending.clear()
        self.batch_limit = min(EMBED_BATCH, self.batch_limit * 2)
        self.pending_texts = 0
        self.pending_chunks = 0
        self.pending_growth = 0
        self.changed = True
        if time.monotonic() - self.last_save > CHECKPOINT_SECONDS:
            self.save()

    def save(self) -> None:
        started = time.perf_counter()
        self.store.save()
        self.timings["saving"] += time.perf_counter() - started
        self.last_save = time.monotonic()


def index_workspace(
    root: Path,
    config: Config,
    store: Store,
    encoder_factory: Callable[[], DocumentEncoder],
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    select: Callable[[SourceFile], bool] | None = None,
) -> IndexReport:
    """Bring ``store`` up to date with the files under ``root``; saves when done.

    ``select``, when given, sees every discovered file and keeps only those it returns True
    for; the others are treated as absent (a prebuilt index's overlay holds only the files
    that differ from the base).
    """
    started = time.perf_counter()
    skipped: Counter[str] = Counter()
    run = _Run(store, encoder_factory, progress, cancel)

    t0 = time.perf_counter()
    sources = list(discover(root, config, skipped))  # metadata only, never contents
    if select is not None:
        sources = [s for s in sources if select(s)]
    run.timings["discovery"] += time.perf_counter() - t0
    seen = {s.path for s in sources}
    # Vanished files are removed after the new files are read, so a renamed or moved
    # file reuses their vectors (a rename is a delete plus an add).
    vanished = [path for path in store.files if path not in seen]
    run.doomed_chunks = sum(len(store.files[path].chunk_ids) for path in vanished)

    total = len(sources)
    limit_hit = ""
    if skipped.get("limit"):
        limit_hit = (
            f"file limit of {config.max_files} reached; the remaining files were not indexed "
            "(raise maxFiles to index them)"
        )
    cancelled = False
    if progress:
        progress(0, total, f"0 of {total} files")
    for done, source in enumerate(sources, start=1):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        over = _process_file(run, source, config, skipped)
        if over:
            limit_hit = (
                f"chunk limit of {config.max_chunks} reached; "
                f"{total - done + 1} files were not indexed (raise maxChunks to index them)"
            )
            break
        if run.pending_chunks >= run.batch_limit and not _flushed(run):
            cancelled = True
            break
        if progress and (done == total or done % 16 == 0 or run.pending_texts == 0):
            progress(done, total, f"{done} of {total} files")
    cancelled = not _flushed(run) or cancelled  # flushes first, cancelled or not
    removed = 0
    for path in vanished:
        if store.remove_file(path):
            removed += 1
            run.changed = True
    if run.changed or store.generation == 0:
        run.save()
    chunk_count = len(store.chunks)
    return IndexReport(
        files=len(store.files),
        chunks=chunk_count,
        embedded=run.embedded,
        reused=run.reused,
        removed_files=removed,
        skipped=dict(skipped),
        seconds=time.perf_counter() - started,
        cancelled=cancelled,
        limit_hit=limit_hit,
        timings=dict(run.timings),
    )


def _flushed(run: _Run) -> bool:
    """Embed and write what is pending; False when the run was cancelled while its texts
    were being embedded (an encoder may stop mid-batch: ``EmbeddingCancelled``). Those
    files are dropped, and the next run indexes them."""
    try:
        run.flush()
    except EmbeddingCancelled:
        run.pending.clear()
        return False
    return True


def _process_file(run: _Run, source: SourceFile, config: Config, skipped: Counter[str]) -> bool:
    """Queue one file's chunks; returns True when the chunk limit stops indexing."""
    store = run.store
    stored = store.files.get(source.path)
    if stored and stored.size == source.size and stored.mtime_ns == source.mtime_ns:
        return False
    text = read_source(source, skipped, max_bytes=config.max_file_bytes)
    if text is None:
        if stored and store.remove_file(source.path):
            run.changed = True
        return False
    digest = file_hash(text)
    if stored and stored.file_hash == digest:
        store.touch_file(source.path, source.size, source.mtime_ns)
        run.changed = True
        return False
    t0 = time.perf_counter()
    chunks = chunk_source(source.path, source.language, text)
    run.timings["chunking"] += time.perf_counter() - t0
    growth = len(chunks) - (len(stored.chunk_ids) if stored else 0)
    future = len(store.chunks) - run.doomed_chunks + run.pending_growth + growth
    if growth > 0 and future > config.max_chunks:
        return True
    vectors: list[np.ndarray | None] = []
    for chunk in chunks:
        vec = store.vector_for_hash(chunk.content_hash)
        if vec is None:
            run.pending_texts += 1
        else:
            run.reused += 1
        vectors.append(vec)
    lines = text.split("\n")
    end_units = [
        line_units(lines[c.end_line - 1]) if c.end_line <= len(lines) else (0, 0, 0) for c in chunks
    ]
    run.pending.append(_PendingFile(source, digest, chunks, vectors, end_units))
    run.pending_chunks += len(chunks)
    run.pending_growth += growth
    return False
