"""CodeQuest on one real repository: build or reuse its index, then answer every query.

The index of ``<checkout>/<benchmark_root>`` lives under the bench cache, in a folder
keyed by the repository's pinned revision, the model and a digest of the engine code that
decides what is indexed (chunking, discovery, the store, the encoders, tokens, config).
A re-run at the same code reuses it through the ``Workspace``'s own incremental indexing
(nothing to do: a warm pass of a second or so); a change to chunking gets a fresh folder.
Document vectors are kept per repository by the text embedded (the benchmarks'
:class:`~benchmarks.encoders.CachingDocumentEncoder`), so a fresh index after a chunking
change embeds only the chunks whose text changed. The index seconds reported are those of
the run that built the index, with the number of its chunks that came from that cache.

Queries go through ``Workspace.search`` (limit 10), the ``Searcher`` the language server
uses, with the shipped defaults (``Config(model=...)``: query encoder ``auto``, hybrid
ranking, 10 chunks a file at most); or, with ``via="lsp"``, through a real
``codequest serve`` started on the same folder and store, one ``codequest/search`` at a
time from the benchmarks' LSP client, as an editor would send them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

import codequest
from benchmarks.common import bench_cache, git_info
from benchmarks.encoders import CachingDocumentEncoder, precision
from benchmarks.realrepos import Repo
from codequest.config import Config
from codequest.encoders import (
    DOCUMENT_RECIPE,
    DocumentEncoder,
    HashingEncoder,
    QueryEncoder,
    document_encoder_identity,
    load_document_encoder,
    load_query_encoder,
)
from codequest.encoders.models import slug
from codequest.metrics import Location
from codequest.workspace import Workspace, model_dim

LIMIT = 10
BUILD_FILE = "bench-build.json"  # beside the store: how and when the index was built
READY_TIMEOUT = 3600.0
# The engine code that decides what an index holds (relative to the codequest package).
INDEX_CODE = (
    "chunking",
    "discovery",
    "index",
    "encoders",
    "tokens.py",
    "text.py",
    "types.py",
    "config.py",
)


def index_code_digest() -> str:
    """A short digest of the indexing code in the ``codequest`` package imported."""
    package = Path(codequest.__file__).resolve().parent
    h = hashlib.sha256(f"recipe {DOCUMENT_RECIPE}\n".encode())
    for entry in INDEX_CODE:
        path = package / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            h.update(file.relative_to(package).as_posix().encode() + b"\0")
            h.update(file.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@dataclass
class RepoRun:
    """One repository's answers: per query the top 10 (repository-relative) and its time."""

    hits: list[list[Location]]
    ms: list[float]
    index: dict[str, Any] = field(default_factory=dict)


class _RepoEncoder:
    """The product's document encoder, loaded at the first text to embed, behind a cache
    of this repository's vectors (the hashing encoder is cheaper than a cache)."""

    def __init__(self, search: SearchRun, folder: Path) -> None:
        self._search = search
        self._folder = folder
        self.identity = search.identity
        self.dim = search.dim
        self.device = search.config.device
        self.cache: CachingDocumentEncoder | None = None

    def encode_documents(self, texts: Sequence[str], *, on_batch: Any = None) -> np.ndarray:
        inner = self._search.document_model()
        if isinstance(inner, HashingEncoder):
            return inner.encode_documents(texts, on_batch=on_batch)
        if self.cache is None:
            folder = self._folder / f"embeddings-{precision(inner)}"
            self.cache = CachingDocumentEncoder(inner, folder)
        return self.cache.encode_documents(texts, on_batch=on_batch)


class SearchRun:
    """What every repository of a run shares: the settings, the models, the cache root."""

    def __init__(self, model: str, *, via: str = "inprocess", progress: bool = True) -> None:
        if via not in ("inprocess", "lsp"):
            raise ValueError(f"via must be 'inprocess' or 'lsp', got {via!r}")
        self.config = Config(model=model)  # the shipped defaults, with the run's model
        self.via = via
        self.progress = progress
        self._document: DocumentEncoder | None = None
        self._query: QueryEncoder | None = None
        self.model_load_s = 0.0  # loading the document model, kept out of index seconds
        self.served_query_encoder: str | None = None  # what codequest.status said (lsp)
        self.identity = document_encoder_identity(self.config)
        self.dim = model_dim(self.config) or self.document_model().dim
        self.code_digest = index_code_digest()
        self.cache_root = bench_cache() / "realrepos"

    def document_model(self) -> DocumentEncoder:
        if self._document is None:
            started = time.perf_counter()
            self._document = load_document_encoder(self.config)
            self.model_load_s += time.perf_counter() - started
        return self._document

    def query_encoder(self) -> QueryEncoder:
        if self._query is None:
            self._query = load_query_encoder(self.config, self.identity)
        return self._query

    def index_dir(self, repo: Repo) -> Path:
        return (
            self.cache_root
            / f"{repo.name}-{repo.revision[:12]}"
            / f"{slug(self.identity)}-{self.code_digest}"
        )

    def describe(self) -> dict[str, Any]:
        query = self._query
        return {
            "document_encoder": self.identity,
            "document_recipe": DOCUMENT_RECIPE,
            "query_encoder": getattr(query, "name", None) if query else self.served_query_encoder,
            "query_encoder_note": getattr(query, "note", "") if query is not None else "",
            "hybrid": self.config.hybrid,
            "max_chunks_per_file": self.config.max_chunks_per_file,
            "index_code_digest": self.code_digest,
            "limit": LIMIT,
            "via": self.via,
        }

    def close(self) -> None:
        self._document = None
        self._query = None


def open_workspace(
    search: SearchRun, repo: Repo, checkouts: Path
) -> tuple[Workspace, dict[str, Any]]:
    """The repository's ``Workspace``, its index brought up to date, and the build's
    figures. The caller closes it."""
    store_dir = search.index_dir(repo)
    store_dir.mkdir(parents=True, exist_ok=True)
    encoder = _RepoEncoder(search, store_dir.parent)
    config = Config(model=search.config.model, cache_dir=str(store_dir))
    query_encoder = search.query_encoder() if search.via == "inprocess" else None
    ws = Workspace(
        repo.bench_dir(checkouts), config, document_encoder=encoder, query_encoder=query_encoder
    )
    try:
        return ws, _index(ws, encoder, store_dir, search)
    except BaseException:
        ws.close()
        raise


def run_repo(search: SearchRun, repo: Repo, checkouts: Path) -> RepoRun:
    """Index (or reuse) and answer every query of ``repo``."""
    ws, index = open_workspace(search, repo, checkouts)
    try:
        if search.via == "lsp":
            ws.close()
            store_dir = search.index_dir(repo)
            config = Config(model=search.config.model, cache_dir=str(store_dir))
            root = repo.bench_dir(checkouts)
            hits, ms = _search_lsp(search, root, store_dir, config, repo, index["chunks"])
        else:
            hits, ms = _search_inprocess(ws, repo)
    finally:
        ws.close()
    return RepoRun(hits, ms, index)


def _index(
    ws: Workspace, encoder: _RepoEncoder, store_dir: Path, search: SearchRun
) -> dict[str, Any]:
    """Bring the index up to date; the build's figures, kept beside the store. The
    document model is loaded once for the whole run, so its load is not counted."""
    loaded_before = search.model_load_s
    report = ws.index()
    model_load_s = search.model_load_s - loaded_before
    build_path = store_dir / BUILD_FILE
    built = None
    if build_path.is_file():
        try:
            built = json.loads(build_path.read_text(encoding="utf-8"))
        except ValueError:
            built = None
    fresh = built is None or report.embedded > 0 or report.removed_files > 0
    if fresh:
        cache = encoder.cache
        built = {
            "index_s": round(report.seconds - model_load_s, 2),
            "model_load_s_not_counted": round(model_load_s, 2),
            "files": report.files,
            "chunks": report.chunks,
            "embedded": report.embedded,
            "embedded_from_cache": cache.hits if cache is not None else 0,
            "skipped": dict(report.skipped),
            "timings_s": {k: round(v, 2) for k, v in report.timings.items()},
            "built_at_commit": git_info()["short"],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        build_path.write_text(json.dumps(built, indent=1) + "\n", encoding="utf-8")
    assert built is not None
    return {
        **built,
        "chunks": report.chunks,
        "files": report.files,
        "index_reused": not fresh,
        "this_run_index_s": round(report.seconds - model_load_s, 2),
        "index_dir": str(store_dir),
    }


def _search_inprocess(ws: Workspace, repo: Repo) -> tuple[list[list[Location]], list[float]]:
    if repo.queries:
        ws.search(repo.queries[0].text, limit=LIMIT)  # loads the encoder, builds the snapshot
    hits: list[list[Location]] = []
    ms: list[float] = []
    for query in repo.queries:
        started = time.perf_counter()
        results = ws.search(query.text, limit=LIMIT)
        ms.append((time.perf_counter() - started) * 1000.0)
        hits.append([(repo.repo_path(r.path), r.start_line, r.end_line) for r in results])
    return hits, ms


def _search_lsp(
    search: SearchRun, root: Path, store_dir: Path, config: Config, repo: Repo, chunks: int
) -> tuple[list[list[Location]], list[float]]:
    """The same queries through a real ``codequest serve`` on the same folder and store."""
    from benchmarks.lsp_client import LspClient, LspError

    # Relative: the server takes it as is (an absolute cacheDir gets a per-folder subfolder).
    options = {"model": config.model, "cacheDir": os.path.relpath(store_dir, root)}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        client = LspClient(
            [sys.executable, "-m", "codequest", "serve"],
            cwd=root,
            env=env,
            stderr=log,
            settings=options,
        )
        try:
            client.initialize(root, options)
            client.wait_indexed(timeout=READY_TIMEOUT)
            status = client.request(
                "workspace/executeCommand", {"command": "codequest.status", "arguments": []}
            )
            folder = ((status or {}).get("folders") or [{}])[0]
            search.served_query_encoder = folder.get("queryEncoder")
            served = folder.get("chunks")
            if served != chunks:
                raise LspError(f"the server holds {served} chunks, the index {chunks}")
            if repo.queries:
                client.request("codequest/search", {"query": repo.queries[0].text, "limit": LIMIT})
            hits: list[list[Location]] = []
            ms: list[float] = []
            for query in repo.queries:
                started = time.perf_counter()
                reply = client.request("codequest/search", {"query": query.text, "limit": LIMIT})
                ms.append((time.perf_counter() - started) * 1000.0)
                hits.append(_lsp_hits(reply, root, repo))
        except LspError as err:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise LspError(f"{repo.name}: {err}; server log: {' | '.join(tail)}") from err
        finally:
            client.close()
    return hits, ms


def _lsp_hits(reply: Any, root: Path, repo: Repo) -> list[Location]:
    out: list[Location] = []
    base = root.resolve()
    for result in (reply or {}).get("results", []):
        path = Path(unquote(urlparse(result["uri"]).path)).resolve()
        rng = result["range"]
        # LSP lines are 0-based; the range ends on the result's last line.
        start, end = rng["start"]["line"] + 1, rng["end"]["line"] + 1
        out.append((repo.repo_path(path.relative_to(base).as_posix()), start, end))
    return out
