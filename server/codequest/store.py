"""The persisted index: usearch vectors plus msgpack metadata, versioned and atomic.

Layout of a store folder:

* ``meta.msgpack`` is the commit point: magic, a blake2b digest, then a msgpack payload
  with the format version, the model identity, the document recipe (the text embedded per
  chunk, ``encoders.base.DOCUMENT_RECIPE``), chunk records (with the lengths of each
  chunk's end line, for editors' ranges) and file records, the lexical
  vocabulary and the name, size and digest of the vectors file it belongs to.
* ``vectors-<generation>.usearch`` is written completely before the meta that names it is
  renamed into place. A process killed at any moment leaves the previous pair intact.
* ``lock`` is an advisory lock held by the one process that writes.

We persist our own chunk-id keys and restore them (usearch keys are our ids); we never rely
on positional auto-keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import numpy as np

from codequest.encoders.base import DOCUMENT_RECIPE
from codequest.errors import StoreError
from codequest.store_view import LexicalTables

# 2: each chunk record carries the lengths of its end line (``ChunkRecord.end_units``).
# Format-1 stores are still read (their records have no end lengths) and saved as 2.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
META_MAGIC = b"CQMETA\x00\x01"
META_FILE = "meta.msgpack"
LOCK_FILE = "lock"
DIGEST_SIZE = 16
# HNSW settings. Below EXACT_SEARCH_LIMIT vectors a brute-force scan is both exact and fast.
CONNECTIVITY = 16
EXPANSION_ADD = 128
# Search breadth: usearch searches with max(ef, count), and searches ask for 40 dense
# candidates (codequest.search.DENSE_CANDIDATES). Measured on 100k real MiniLM code vectors
# (300 CoSQA queries, int8 query encoder, against exact search): ef 64 with 40 candidates
# keeps recall@10 0.995 (recall@40 0.979) at 0.50 ms a query, where ef 128 with the 100
# candidates asked before took 0.84 ms for 0.998 (recall@100 0.977); ef 48 gave 0.993 at
# 0.37 ms. Bigger graphs need more breadth for the same recall (ef 200 gave 0.971 at 1M),
# so they keep 200.
EXPANSION_SEARCH = 64
EXPANSION_SEARCH_LARGE = 200
LARGE_INDEX = 250_000
EXACT_SEARCH_LIMIT = 20_000
# Loads retried when a concurrent writer replaced the store while it was being read.
LOAD_ATTEMPTS = 10
# usearch < 2.26 (pinned: 2.26 crashes next to onnxruntime) never reclaims the tombstones
# remove() leaves in its key table. After about as many removals as the index's capacity,
# remove() stops finding live keys (they linger as ghosts), then spins forever (upstream
# issues #753 and #769). Saving and loading does not reset that; building a fresh index
# from the live vectors does, so the store does it after REBUILD_AFTER x capacity removals.
REBUILD_AFTER = 0.5
REBUILD_MIN = 32

_S = TypeVar("_S", bound="Store")


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    id: int
    path: str
    language: str
    kind: str
    symbol: str
    start_line: int
    end_line: int
    content_hash: str
    preview: str
    # Length of the end line in UTF-8 bytes, UTF-16 units and code points, so an editor's
    # range for the chunk needs no file read at query time; None in format-1 stores.
    end_units: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    language: str
    file_hash: str
    size: int
    mtime_ns: int
    chunk_ids: tuple[int, ...]


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


def _file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=DIGEST_SIZE)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _changed(path: Path, raw: bytes) -> bool:
    """Whether ``path`` no longer holds ``raw`` (another process committed meanwhile)."""
    try:
        return path.read_bytes() != raw
    except OSError:
        return True


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def expansion_for(size: int) -> int:
    """The HNSW search breadth (ef) used for an index of ``size`` vectors."""
    return EXPANSION_SEARCH if size <= LARGE_INDEX else EXPANSION_SEARCH_LARGE


# usearch kernels (SimSIMD capability names) that compute bf16 dot products natively.
_NATIVE_BF16_KERNELS = frozenset(
    {"genoa", "sapphire", "sapphire_amx", "turin", "granite_amx", "neon_bf16", "sve_bf16"}
)


@functools.lru_cache(maxsize=1)
def preferred_vector_dtype() -> str:
    """How a new index stores its vectors: "bf16" where the CPU has bf16 dot products, else
    "f16". Both take two bytes a dimension. On this project's AMD EPYC VM (AVX512-BF16)
    the bf16 HNSW search over 100k MiniLM code vectors took 0.47 ms against 0.68 ms for f16
    on cold caches (0.22 against 0.32-0.40 warm), with recall@10 0.989 against 0.988
    (300 CoSQA queries, ef 64, against an exact f32 scan). Elsewhere usearch would convert
    bf16 in software, and f16 keeps three more bits of mantissa, so f16 stays.
    """
    try:
        from usearch.index import Index

        kernel = str(Index(ndim=8, metric="cos", dtype="bf16").hardware_acceleration)
    except Exception:  # noqa: BLE001 - an old usearch without bf16, or no such kernel
        return "f16"
    return "bf16" if kernel in _NATIVE_BF16_KERNELS else "f16"


def _numpy_dtype(kind: Any) -> Any:
    """The numpy dtype that holds usearch's ``kind`` as stored; float32 for bf16 and others
    numpy has no type for (usearch converts those)."""
    from usearch.index import ScalarKind

    return {ScalarKind.F16: np.float16, ScalarKind.F32: np.float32}.get(kind, np.float32)


def _new_index(dim: int, dtype: Any = None) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype=dtype if dtype is not None else preferred_vector_dtype(),
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


class Store:
    """In-memory view of one store folder; mutations are saved with :meth:`save`.

    Thread safety: ``self.lock`` guards every mutation and every vector search, so the
    language server can answer queries while its indexing thread adds chunks.
    """

    def __init__(self, directory: str | os.PathLike[str], model: str, dim: int) -> None:
        self.directory = Path(directory)
        self.model = model
        self.dim = dim
        self.lock = threading.RLock()
        self.generation = 0
        self.chunks: dict[int, ChunkRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.terms: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (term ids, counts)
        self.vocab: list[str] = []
        self.vocab_ids: dict[str, int] = {}
        self.by_hash: dict[str, int] = {}  # content hash -> a chunk id holding that vector
        self.next_id = 1
        self.read_only = False
        self.extra: dict[str, Any] = {}  # format-versioned extension data (e.g. prebuilt info)
        self.version = 0  # bumped on every mutation; search snapshots compare it
        self.vectors = _new_index(dim)
        self.churn = 0  # vectors removed since self.vectors was last built fresh

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def load(
        cls: type[_S],
        directory: str | os.PathLike[str],
        *,
        model: str | None = None,
        recipe: int | None = None,
        read_only: bool = False,
    ) -> _S:
        """Load a store or raise :class:`StoreError` saying what is wrong with it.

        ``model`` and ``recipe`` (the document recipe, ``DOCUMENT_RECIPE``), when given, must
        match what the store was embedded with; indexes pass both, benchmarks with
        synthetic vectors neither.

        A writer in another process may commit a new generation while we read (and then
        delete the vectors our meta names); when the meta changed under us we read the new
        pair instead of calling the old one damaged.
        """
        directory = Path(directory)
        meta_path = directory / META_FILE
        for attempt in range(LOAD_ATTEMPTS):
            try:
                raw = meta_path.read_bytes()
            except FileNotFoundError as err:
                raise StoreError(f"no index at {directory}") from err
            except OSError as err:
                raise StoreError(f"cannot read {meta_path}: {err.strerror}") from err
            try:
                return cls._load_payload(
                    directory, raw, model=model, recipe=recipe, read_only=read_only
                )
            except StoreError:
                if attempt + 1 < LOAD_ATTEMPTS and _changed(meta_path, raw):
                    continue
                raise
        raise AssertionError("unreachable")

    @classmethod
    def _load_payload(
        cls: type[_S],
        directory: Path,
        raw: bytes,
        *,
        model: str | None,
        recipe: int | None,
        read_only: bool,
    ) -> _S:
        meta_path = directory / META_FILE
        payload = cls._check_meta(raw, meta_path)
        if payload.get("format") not in READABLE_FORMATS:
            readable = ", ".join(str(v) for v in READABLE_FORMATS)
            raise StoreError(
                f"index at {directory} has format version {payload.get('format')!r}, "
                f"this CodeQuest reads versions {readable}"
            )
        stored_recipe = payload.get("recipe", 1)  # stores from before the field: recipe 1
        if recipe is not None and stored_recipe != recipe:
            raise StoreError(
                f"index at {directory} was embedded with document recipe {stored_recipe!r}, "
                f"this CodeQuest embeds with recipe {recipe}"
            )
        if model is not None and payload.get("model") != model:
            raise StoreError(
                f"index at {directory} was built with model {payload.get('model')!r}, "
                f"but {model!r} is configured"
            )
        try:
            # Read the vectors first, right after the meta: the shorter that window, the less
            # a concurrent writer's commit (which deletes these vectors) can get in between.
            data = cls._read_vectors(directory, payload, read_only=read_only)
            store = cls(directory, str(payload["model"]), int(payload["dim"]))
            store._restore(payload, data, read_only=read_only)
        except StoreError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise StoreError(f"index metadata at {meta_path} is inconsistent: {err!r}") from err
        except OSError as err:  # the vectors vanished between two looks at them
            raise StoreError(f"index vectors cannot be read: {err}") from err
        return store

    @classmethod
    def peek_generation(cls, directory: str | os.PathLike[str]) -> int | None:
        """The generation of the store on disk, or None when there is no valid one."""
        meta_path = Path(directory) / META_FILE
        try:
            return int(cls._check_meta(meta_path.read_bytes(), meta_path)["generation"])
        except (OSError, StoreError, KeyError, TypeError, ValueError):
            return None

    @staticmethod
    def _check_meta(raw: bytes, meta_path: Path) -> dict[str, Any]:
        head = len(META_MAGIC) + DIGEST_SIZE
        if len(raw) < head or not raw.startswith(META_MAGIC):
            raise StoreError(f"{meta_path} is not a CodeQuest index file (or is truncated)")
        digest, body = raw[len(META_MAGIC) : head], raw[head:]
        if _digest(body) != digest:
            raise StoreError(f"{meta_path} is corrupt or truncated (checksum mismatch)")
        try:
            payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as err:
            raise StoreError(f"{meta_path} cannot be decoded: {err}") from err
        if not isinstance(payload, dict):
            raise StoreError(f"{meta_path} does not hold an index record")
        return payload

    @staticmethod
    def _read_vectors(directory: Path, payload: dict[str, Any], *, read_only: bool) -> bytes | None:
        """The checked bytes of the vectors file the meta names (None: map it read-only).

        A writable load restores from these very bytes, so a writer that commits a new
        generation and deletes this file meanwhile cannot hurt it. A read-only (prebuilt)
        index is memory-mapped instead; nothing rewrites those.
        """
        vectors_path = directory / str(payload["vectors_file"])
        name = vectors_path.name
        data: bytes | None = None
        try:
            if read_only:
                size = vectors_path.stat().st_size
            else:
                data = vectors_path.read_bytes()
                size = len(data)
        except FileNotFoundError as err:
            raise StoreError(f"index vectors {name} are missing") from err
        if size != int(payload["vectors_size"]):
            raise StoreError(f"index vectors {name} are truncated")
        digest = (
            _file_digest(vectors_path)
            if data is None
            else hashlib.blake2b(data, digest_size=DIGEST_SIZE).hexdigest()
        )
        if digest != payload["vectors_digest"]:
            raise StoreError(f"index vectors {name} are corrupt (checksum mismatch)")
        return data

    def _restore(self, payload: dict[str, Any], data: bytes | None, *, read_only: bool) -> None:
        self.generation = int(payload["generation"])
        self.next_id = int(payload["next_id"])
        self.vocab = list(payload["vocab"])
        self.vocab_ids = {term: i for i, term in enumerate(self.vocab)}
        self.extra = dict(payload.get("extra", {}))
        self.churn = int(payload.get("churn", 0))
        for row in payload["chunks"]:
            cid, path, language, kind, symbol, start, end, chash, preview, term_ids, counts = row[
                :11
            ]
            units = row[11] if len(row) > 11 and row[11] is not None else None
            self.chunks[cid] = ChunkRecord(
                cid,
                path,
                language,
                kind,
                symbol,
                start,
                end,
                chash,
                preview,
                (int(units[0]), int(units[1]), int(units[2])) if units is not None else None,
            )
            self.terms[cid] = (
                np.frombuffer(term_ids, dtype=np.uint32),
                np.frombuffer(counts, dtype=np.uint16),
            )
            self.by_hash.setdefault(chash, cid)
        for row in payload["files"]:
            path, language, fhash, size, mtime_ns, ids = row
            self.files[path] = FileRecord(path, language, fhash, size, mtime_ns, tuple(ids))
        vectors_path = self.directory / str(payload["vectors_file"])
        try:
            if data is None:
                self.vectors.view(str(vectors_path))
            else:
                self.vectors.load(data)
        except Exception as err:  # noqa: BLE001 - usearch raises RuntimeError subclasses
            raise StoreError(f"index vectors {vectors_path.name} cannot be read: {err}") from err
        self.vectors.expansion_search = EXPANSION_SEARCH
        if len(self.vectors) != len(self.chunks):
            raise StoreError(
                f"index holds {len(self.vectors)} vectors for {len(self.chunks)} chunks; rebuilding"
            )
        self.read_only = read_only

    # -- saving --------------------------------------------------------------------------
    def save(self) -> None:
        """Persist atomically: vectors first, then the meta that names them."""
        if self.read_only:
            raise StoreError("a read-only (prebuilt) index cannot be saved")
        with self.lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Never reuse a vectors name that is on disk: a fresh store (a rebuild) saved
            # over an old one would otherwise replace the vectors the old meta names.
            generation = max(self.generation, self._disk_generations()) + 1
            vectors_name = f"vectors-{generation}.usearch"
            vectors_path = self.directory / vectors_name
            tmp = self.directory / f".{vectors_name}.{os.getpid()}.tmp"
            self.vectors.save(str(tmp))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, vectors_path)
            payload = self._payload(generation, vectors_name, vectors_path)
            body = msgpack.packb(payload, use_bin_type=True)
            atomic_write_bytes(self.directory / META_FILE, META_MAGIC + _digest(body) + body)
            self.generation = generation
        self._remove_stale_vectors(vectors_name)

    def _payload(self, generation: int, vectors_name: str, vectors_path: Path) -> dict[str, Any]:
        chunks = [
            [
                r.id,
                r.path,
                r.language,
                r.kind,
                r.symbol,
                r.start_line,
                r.end_line,
                r.content_hash,
                r.preview,
                self.terms[r.id][0].astype(np.uint32).tobytes(),
                self.terms[r.id][1].astype(np.uint16).tobytes(),
                list(r.end_units) if r.end_units is not None else None,
            ]
            for r in self.chunks.values()
        ]
        files = [
            [f.path, f.language, f.file_hash, f.size, f.mtime_ns, list(f.chunk_ids)]
            for f in self.files.values()
        ]
        return {
            "format": FORMAT_VERSION,
            "model": self.model,
            "recipe": DOCUMENT_RECIPE,
            "dim": self.dim,
            "generation": generation,
            "saved_at": time.time(),
            "next_id": self.next_id,
            "vocab": self.vocab,
            "chunks": chunks,
            "files": files,
            "extra": self.extra,
            "churn": self.churn,
            "vectors_file": vectors_name,
            "vectors_size": vectors_path.stat().st_size,
            "vectors_digest": _file_digest(vectors_path),
        }

    def _disk_generations(self) -> int:
        highest = 0
        for path in self.directory.glob("vectors-*.usearch"):
            with contextlib.suppress(ValueError):
                highest = max(highest, int(path.stem.split("-", 1)[1]))
        return highest

    def _remove_stale_vectors(self, keep: str) -> None:
        for path in self.directory.glob("vectors-*.usearch"):
            if path.name != keep:
                with contextlib.suppress(OSError):
                    path.unlink()
        for path in self.directory.glob(".*.tmp"):
            # Leftovers of a writer that was killed; only ours can be in flight now.
            if f".{os.getpid()}." not in path.name:
                with contextlib.suppress(OSError):
                    path.unlink()

    # -- mutation ------------------------------------------------------------------------
    def _check_writable(self) -> None:
        # usearch crashes the process (SIGSEGV) when a memory-mapped view is modified.
        if self.read_only:
            raise StoreError("a read-only (prebuilt) index cannot be modified")

    def term_ids(self, counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.empty(len(counts), dtype=np.uint32)
        tfs = np.empty(len(counts), dtype=np.uint16)
        for i, (term, count) in enumerate(counts.items()):
            tid = self.vocab_ids.get(term)
            if tid is None:
                tid = len(self.vocab)
                self.vocab.append(term)
                self.vocab_ids[term] = tid
            ids[i] = tid
            tfs[i] = min(count, 65535)
        return ids, tfs

    def vector_for_hash(self, content_hash: str) -> np.ndarray | None:
        with self.lock:
            cid = self.by_hash.get(content_hash)
            if cid is None or cid not in self.chunks:
                return None
            vector = self.vectors.get(cid, dtype=np.float32)
            return None if vector is None else np.asarray(vector, dtype=np.float32)

    def put_file(
        self,
        file: FileRecord,
        records: list[tuple[ChunkRecord, dict[str, int]]],
        vectors: np.ndarray,
    ) -> FileRecord:
        """Replace everything stored for ``file.path`` with these chunks and vectors.

        ``records`` carry placeholder ids; real ids are assigned here. Returns the stored
        file record.
        """
        if len(records) != len(vectors):
            raise ValueError(f"{len(records)} chunks but {len(vectors)} vectors for {file.path}")
        self._check_writable()
        with self.lock:
            self._drop_file(file.path)
            ids: list[int] = []
            for (record, counts), _ in zip(records, vectors, strict=True):
                cid = self.next_id
                self.next_id += 1
                ids.append(cid)
                self.chunks[cid] = ChunkRecord(
                    cid,
                    record.path,
                    record.language,
                    record.kind,
                    record.symbol,
                    record.start_line,
                    record.end_line,
                    record.content_hash,
                    record.preview,
                    record.end_units,
                )
                self.terms[cid] = self.term_ids(counts)
                self.by_hash[record.content_hash] = cid
            if ids:
                self.vectors.add(np.asarray(ids, dtype=np.uint64), np.asarray(vectors, np.float32))
            stored = FileRecord(
                file.path, file.language, file.file_hash, file.size, file.mtime_ns, tuple(ids)
            )
            self.files[file.path] = stored
            self.version += 1
            return stored

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Record a new mtime for a file whose content did not change."""
        self._check_writable()
        with self.lock:
            old = self.files[path]
            self.files[path] = FileRecord(
                path, old.language, old.file_hash, size, mtime_ns, old.chunk_ids
            )

    def remove_file(self, path: str) -> bool:
        self._check_writable()
        with self.lock:
            removed = self._drop_file(path)
            if removed:
                self.version += 1
            return removed

    def _drop_file(self, path: str) -> bool:
        old = self.files.pop(path, None)
        if old is None:
            return False
        for cid in old.chunk_ids:
            record = self.chunks.pop(cid, None)
            self.terms.pop(cid, None)
            if record is not None and self.by_hash.get(record.content_hash) == cid:
                del self.by_hash[record.content_hash]
        if old.chunk_ids:
            removed = self.vectors.remove(np.asarray(old.chunk_ids, dtype=np.uint64))
            self.churn += len(old.chunk_ids)
            limit = max(REBUILD_MIN, REBUILD_AFTER * self.vectors.capacity)
            if int(np.sum(removed)) != len(old.chunk_ids) or self.churn >= limit:
                self._rebuild_vectors()
        return True

    def _rebuild_vectors(self) -> None:
        """Build a fresh usearch index from the live vectors (see REBUILD_AFTER)."""
        ids = np.fromiter(self.chunks, dtype=np.uint64, count=len(self.chunks))
        fresh = _new_index(self.dim, self.vectors.dtype)  # the precision it was built with
        if len(ids):
            got = self.vectors.get(ids, dtype=np.float32)
            rows = [got] if isinstance(got, np.ndarray) and got.ndim == 1 else list(got)
            if any(row is None for row in rows):
                raise StoreError("index vectors were lost in memory; re-index from scratch")
            fresh.add(ids, np.vstack(rows).astype(np.float32))
        fresh.expansion_search = EXPANSION_SEARCH
        self.vectors = fresh
        self.churn = 0

    # -- queries -------------------------------------------------------------------------
    def search_vectors(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Nearest chunk ids and cosine similarities (exact below EXACT_SEARCH_LIMIT)."""
        with self.lock:
            size = len(self.vectors)
            if size == 0 or count <= 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            expansion = expansion_for(size)
            if self.vectors.expansion_search != expansion:
                self.vectors.expansion_search = expansion
            matches = self.vectors.search(query, min(count, size), exact=size <= EXACT_SEARCH_LIMIT)
        keys = np.asarray(matches.keys, dtype=np.int64)
        sims = 1.0 - np.asarray(matches.distances, dtype=np.float32)
        return keys, sims

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of chunk ``ids`` as float32 rows, with a mask of the ids found.

        Only usearch's public API: f16 rows are fetched as stored and widened by numpy,
        which is cheaper than usearch's own cast (and exact); bf16 rows, which numpy cannot
        hold, are widened by usearch.
        """
        keys = np.ascontiguousarray(ids, dtype=np.uint64)
        if not len(keys):
            return np.zeros(0, bool), np.zeros((0, self.dim), np.float32)
        with self.lock:
            native = _numpy_dtype(self.vectors.dtype)
            got = self.vectors.get(keys, dtype=native)
        rows = list(got)  # one entry per key: a row, or None
        found = np.fromiter((row is not None for row in rows), bool, count=len(keys))
        present = [row for row in rows if row is not None]
        if not present:
            return found, np.zeros((0, self.dim), np.float32)
        # One concatenate of the 1-d rows, cheaper than np.vstack, which reshapes each row.
        matrix = np.concatenate(present).reshape(len(present), self.dim)
        return found, matrix.astype(np.float32, copy=False)

    def records(self) -> tuple[int, tuple[ChunkRecord, ...]]:
        with self.lock:
            return self.version, tuple(self.chunks.values())

    def lexical_tables(self) -> LexicalTables:
        with self.lock:
            records = tuple(self.chunks.values())
            return LexicalTables(
                version=self.version,
                records=records,
                terms=tuple(self.terms[r.id] for r in records),
                vocab_ids=dict(self.vocab_ids),
                vocab_size=len(self.vocab),
            )

    def iter_records(self) -> Iterator[ChunkRecord]:
        return iter(list(self.chunks.values()))

    def paths(self) -> Iterable[str]:
        return list(self.files)


@contextlib.contextmanager
def writer_lock(directory: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the store's advisory write lock. Yields False if ``wait`` is off and it is taken."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
