"""A store on disk: the meta file that commits it, the vectors file it names, the lock.

* ``meta.msgpack`` is the commit point: magic, a blake2b digest, then a msgpack payload
  with the format version, the model identity, the document recipe (the text embedded per
  chunk, ``encoders.base.DOCUMENT_RECIPE``), chunk records (with the lengths of each
  chunk's end line, for editors' ranges, and since format 3 the names the chunk defines)
  and file records, the lexical vocabulary and the
  name, size and digest of the vectors file it belongs to.
* ``vectors-<generation>.usearch`` is written completely before the meta that names it is
  renamed into place. A process killed at any moment leaves the previous pair intact.
* ``lock`` is an advisory lock held by the one process that writes.

We persist our own chunk-id keys and restore them (usearch keys are our ids); we never rely
on positional auto-keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgpack

from codequest.encoders.base import DOCUMENT_RECIPE
from codequest.errors import StoreError
from codequest.index import rows
from codequest.index.vectors import EXPANSION_SEARCH

if TYPE_CHECKING:
    from codequest.index.store import Store

# 2: each chunk record carries the lengths of its end line (``ChunkRecord.end_units``).
# Format-1 stores are still read (their records have no end lengths) and saved as 2.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
META_MAGIC = b"CQMETA\x00\x01"
META_FILE = "meta.msgpack"
LOCK_FILE = "lock"
DIGEST_SIZE = 16
# Loads retried when a concurrent writer replaced the store while it was being read.
LOAD_ATTEMPTS = 10

_S = TypeVar("_S", bound="Store")


# -- reading -------------------------------------------------------------------------------
def load_store(
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
            return _load_payload(
                cls, directory, raw, model=model, recipe=recipe, read_only=read_only
            )
        except StoreError:
            if attempt + 1 < LOAD_ATTEMPTS and _changed(meta_path, raw):
                continue
            raise
    raise AssertionError("unreachable")


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
    payload = check_meta(raw, meta_path)
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
        data = read_vectors(directory, payload, read_only=read_only)
        store = cls(directory, str(payload["model"]), int(payload["dim"]))
        restore(store, payload, data, read_only=read_only)
    except StoreError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise StoreError(f"index metadata at {meta_path} is inconsistent: {err!r}") from err
    except OSError as err:  # the vectors vanished between two looks at them
        raise StoreError(f"index vectors cannot be read: {err}") from err
    return store


def peek_generation(directory: str | os.PathLike[str]) -> int | None:
    """The generation of the store on disk, or None when there is no valid one."""
    meta_path = Path(directory) / META_FILE
    try:
        return int(check_meta(meta_path.read_bytes(), meta_path)["generation"])
    except (OSError, StoreError, KeyError, TypeError, ValueError):
        return None


def check_meta(raw: bytes, meta_path: Path) -> dict[str, Any]:
    """The payload of a meta file's bytes, or StoreError saying what is wrong with them.

    The chunk rows are not decoded here: ``payload["chunks"]`` is a
    :class:`~codequest.index.rows.ChunkRows` that decodes them one at a time as they are
    restored (see there)."""
    head = len(META_MAGIC) + DIGEST_SIZE
    if len(raw) < head or not raw.startswith(META_MAGIC):
        raise StoreError(f"{meta_path} is not a CodeQuest index file (or is truncated)")
    digest, body = raw[len(META_MAGIC) : head], memoryview(raw)[head:]
    if _digest(body) != digest:
        raise StoreError(f"{meta_path} is corrupt or truncated (checksum mismatch)")
    try:
        payload = rows.unpack_payload(body)
    except (ValueError, msgpack.UnpackException) as err:
        raise StoreError(f"{meta_path} cannot be decoded: {err}") from err
    if not isinstance(payload, dict):
        raise StoreError(f"{meta_path} does not hold an index record")
    return payload


def read_vectors(directory: Path, payload: dict[str, Any], *, read_only: bool) -> bytes | None:
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


def restore(store: Store, payload: dict[str, Any], data: bytes | None, *, read_only: bool) -> None:
    """Fill a fresh ``store`` from a checked payload and its vectors' bytes."""
    store.generation = int(payload["generation"])
    store.next_id = int(payload["next_id"])
    store.vocab = list(payload["vocab"])
    store.vocab_ids = {term: i for i, term in enumerate(store.vocab)}
    store.extra = dict(payload.get("extra", {}))
    store.churn = int(payload.get("churn", 0))
    shared: dict[Any, Any] = {}  # one object per distinct path, language, kind, end_units
    for row in payload["chunks"]:
        record, terms = rows.chunk_record(row, shared)
        store.chunks[record.id] = record
        store.terms[record.id] = terms
        store.by_hash.setdefault(record.content_hash, record.id)
    for row in payload["files"]:
        file = rows.file_record(row, shared)
        store.files[file.path] = file
    vectors_path = store.directory / str(payload["vectors_file"])
    try:
        if data is None:
            store.vectors.view(str(vectors_path))
        else:
            store.vectors.load(data)
    except Exception as err:  # noqa: BLE001 - usearch raises RuntimeError subclasses
        raise StoreError(f"index vectors {vectors_path.name} cannot be read: {err}") from err
    store.vectors.expansion_search = EXPANSION_SEARCH
    if len(store.vectors) != len(store.chunks):
        raise StoreError(
            f"index holds {len(store.vectors)} vectors for {len(store.chunks)} chunks; rebuilding"
        )
    store.read_only = read_only


# -- writing -------------------------------------------------------------------------------
def save_store(store: Store) -> None:
    """Persist atomically: vectors first, then the meta that names them."""
    if store.read_only:
        raise StoreError("a read-only (prebuilt) index cannot be saved")
    with store.lock:
        store.directory.mkdir(parents=True, exist_ok=True)
        # Never reuse a vectors name that is on disk: a fresh store (a rebuild) saved
        # over an old one would otherwise replace the vectors the old meta names.
        generation = max(store.generation, disk_generation(store.directory)) + 1
        vectors_name = f"vectors-{generation}.usearch"
        vectors_path = store.directory / vectors_name
        tmp = store.directory / f".{vectors_name}.{os.getpid()}.tmp"
        store.vectors.save(str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, vectors_path)
        payload = payload_of(store, generation, vectors_name, vectors_path)
        body = msgpack.packb(payload, use_bin_type=True)
        atomic_write_bytes(store.directory / META_FILE, encode_meta(body))
        store.generation = generation
    remove_stale_vectors(store.directory, vectors_name)


def payload_of(
    store: Store, generation: int, vectors_name: str, vectors_path: Path
) -> dict[str, Any]:
    chunks = [rows.chunk_row(r, store.terms[r.id]) for r in store.chunks.values()]
    files = [rows.file_row(f) for f in store.files.values()]
    return {
        "format": FORMAT_VERSION,
        "model": store.model,
        "recipe": DOCUMENT_RECIPE,
        "dim": store.dim,
        "generation": generation,
        "saved_at": time.time(),
        "next_id": store.next_id,
        "vocab": store.vocab,
        "chunks": chunks,
        "files": files,
        "extra": store.extra,
        "churn": store.churn,
        "vectors_file": vectors_name,
        "vectors_size": vectors_path.stat().st_size,
        "vectors_digest": _file_digest(vectors_path),
    }


def disk_generation(directory: Path) -> int:
    """The highest generation of a vectors file in ``directory`` (0: none)."""
    highest = 0
    for path in directory.glob("vectors-*.usearch"):
        with contextlib.suppress(ValueError):
            highest = max(highest, int(path.stem.split("-", 1)[1]))
    return highest


def remove_stale_vectors(directory: Path, keep: str) -> None:
    """Delete the vectors files other than ``keep``, and dead writers' temporary files."""
    for path in directory.glob("vectors-*.usearch"):
        if path.name != keep:
            with contextlib.suppress(OSError):
                path.unlink()
    for path in directory.glob(".*.tmp"):
        # Leftovers of a writer that was killed; only ours can be in flight now.
        if f".{os.getpid()}." not in path.name:
            with contextlib.suppress(OSError):
                path.unlink()


# -- files -------------------------------------------------------------------------------
def _digest(data: bytes | memoryview) -> bytes:
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


def encode_meta(body: bytes) -> bytes:
    """A meta file's bytes: the magic, the digest of ``body``, then ``body``."""
    return META_MAGIC + _digest(body) + body


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
