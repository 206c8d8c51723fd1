"""Distributed embedding on Ray: the embedding stage of indexing as a Ray Data pipeline.

``codequest index PATH --executor ray [--address ADDR]`` runs in three steps:

1. *Plan* (driver): discovery and chunking, exactly as local indexing does them, collecting
   the texts of chunks whose content hash has no vector in the store yet. Unchanged files
   are not read and unchanged chunks are never sent to the cluster.
2. *Embed* (cluster): the distinct texts become a Ray dataset that flows through
   ``map_batches`` on an actor pool; each actor loads the document encoder once. One actor
   per GPU where the cluster has GPUs, CPU actors otherwise. Actors are restarted and their
   batches retried when a worker dies (``max_restarts`` / ``max_task_retries``).
3. *Write* (driver): the ordinary incremental indexer runs with an encoder that answers
   from the vectors the cluster computed, so chunks, records and the store format are the
   same as local indexing. The store is saved atomically at the end (and at checkpoints),
   so an interrupted run leaves the previous store valid.

Needs the ``cluster`` extra (``pip install 'codequest[cluster]'``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codequest.chunking import chunk_source
from codequest.config import Config
from codequest.discovery import discover, read_source
from codequest.encoders import DocumentEncoder, document_text, load_document_encoder
from codequest.errors import ClusterError
from codequest.index.indexer import ProgressFn, index_workspace
from codequest.index.store import Store
from codequest.text import file_hash
from codequest.types import IndexReport

# Rows per map_batches call; an actor embeds one batch at a time.
RAY_BATCH = 128
# Environment variable naming a flag file: an actor that finds it deletes it and exits, once.
# Used by tests (and chaos drills) to check that a dying worker loses no chunks.
CRASH_FLAG_ENV = "CODEQUEST_RAY_CRASH_ONCE"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ClusterError(
            "the Ray executor needs the cluster extra: pip install 'codequest[cluster]'"
        ) from err
    return ray


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# -- step 1: plan --------------------------------------------------------------------------
def plan_texts(root: Path, config: Config, store: Store) -> dict[str, str]:
    """Texts (by :func:`text_key`) of chunks that the next index run would have to embed."""
    todo: dict[str, str] = {}
    for source in discover(root, config, Counter()):
        stored = store.files.get(source.path)
        if stored and stored.size == source.size and stored.mtime_ns == source.mtime_ns:
            continue
        text = read_source(source, Counter(), max_bytes=config.max_file_bytes)
        if text is None or (stored and stored.file_hash == file_hash(text)):
            continue
        for chunk in chunk_source(source.path, source.language, text):
            if store.vector_for_hash(chunk.content_hash) is None:
                doc = document_text(chunk)
                todo.setdefault(text_key(doc), doc)
    return todo


# -- step 2: embed -------------------------------------------------------------------------
class EmbedActor:
    """Holds one document encoder; embeds batches of ``{"key", "text"}`` rows."""

    def __init__(self, config: Config) -> None:
        self.encoder = load_document_encoder(config)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        flag = os.environ.get(CRASH_FLAG_ENV)
        if flag:
            try:
                os.remove(flag)
            except FileNotFoundError:
                pass
            else:
                os._exit(3)  # the worker process dies mid-batch, as a crashed node would
        vectors = self.encoder.encode_documents([str(t) for t in batch["text"]])
        return {"key": batch["key"], "vector": np.asarray(vectors, dtype=np.float32)}


@dataclass(frozen=True)
class ClusterPlan:
    actors: int
    gpus_per_actor: float
    cpus_per_actor: float


def cluster_plan(resources: dict[str, float], workers: int | None) -> ClusterPlan:
    """One actor per GPU when there are GPUs; otherwise CPU actors, leaving a CPU spare."""
    gpus = int(resources.get("GPU", 0))
    if gpus > 0:
        return ClusterPlan(workers or gpus, 1.0, 1.0)
    cpus = int(resources.get("CPU", 1))
    return ClusterPlan(workers or max(1, cpus - 1), 0.0, 1.0)


def embed_on_ray(
    texts: dict[str, str],
    config: Config,
    *,
    workers: int | None = None,
    batch_size: int = RAY_BATCH,
    max_retries: int = 3,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Embed ``texts`` on the connected Ray cluster; returns vectors by key and run facts."""
    ray = _import_ray()
    if not texts:
        return {}, {"actors": 0, "texts": 0, "seconds": 0.0}
    plan = cluster_plan(ray.cluster_resources(), workers)
    started = time.perf_counter()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_stats_logs = False
    rows = [{"key": k, "text": t} for k, t in texts.items()]
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // batch_size))
    env = {CRASH_FLAG_ENV: os.environ[CRASH_FLAG_ENV]} if os.environ.get(CRASH_FLAG_ENV) else {}
    embedded = dataset.map_batches(
        EmbedActor,
        fn_constructor_args=(config,),
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_gpus=plan.gpus_per_actor or None,
        num_cpus=plan.cpus_per_actor,
        max_restarts=max_retries,
        max_task_retries=max_retries,
        runtime_env={"env_vars": env} if env else None,
    )
    out: dict[str, np.ndarray] = {}
    for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
        for key, vector in zip(batch["key"], batch["vector"], strict=True):
            out[str(key)] = np.asarray(vector, dtype=np.float32)
    missing = len(texts) - len(out)
    if missing:
        raise ClusterError(f"the cluster returned {len(out)} of {len(texts)} vectors")
    seconds = time.perf_counter() - started
    return out, {
        "actors": plan.actors,
        "gpus": plan.gpus_per_actor,
        "texts": len(texts),
        "seconds": seconds,
    }


class PrecomputedEncoder:
    """A document encoder that answers from vectors the cluster computed."""

    def __init__(
        self,
        vectors: dict[str, np.ndarray],
        dim: int,
        identity: str,
        fallback: Callable[[], DocumentEncoder],
    ) -> None:
        self.vectors = vectors
        self.dim = dim
        self.identity = identity
        self._fallback = fallback
        self.device = "ray"
        self.misses = 0

    def encode_documents(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.vectors]
        if missing:
            # Files that changed between planning and writing: embed them here.
            self.misses += len(missing)
            local = self._fallback().encode_documents([texts[i] for i in missing])
            for i, vector in zip(missing, local, strict=True):
                self.vectors[keys[i]] = np.asarray(vector, dtype=np.float32)
        if on_batch is not None:
            on_batch(len(texts))
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)


# -- the whole run -------------------------------------------------------------------------
def connect(address: str | None, *, num_cpus: int = 2) -> Any:
    """Connect to ``address``, or start a small local Ray when there is none."""
    ray = _import_ray()
    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
    return ray


def index_with_ray(
    root: Path,
    config: Config,
    store: Store,
    encoder_factory: Callable[[], DocumentEncoder],
    *,
    address: str | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> IndexReport:
    """Like :func:`~codequest.indexer.index_workspace`, with embedding on Ray."""
    connect(address)
    started = time.perf_counter()
    texts = plan_texts(root, config, store)
    planned = time.perf_counter() - started
    vectors, facts = embed_on_ray(texts, config, workers=workers)
    encoder = PrecomputedEncoder(vectors, store.dim, store.model, encoder_factory)
    report = index_workspace(root, config, store, lambda: encoder, progress=progress, cancel=cancel)
    report.timings["ray_plan"] = planned
    report.timings["ray_embedding"] = float(facts["seconds"])
    report.timings["ray_actors"] = float(facts["actors"])
    report.timings["ray_local_fallback"] = float(encoder.misses)
    return report


def index_workspace_on_ray(
    ws: Any,
    *,
    address: str | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> IndexReport:
    """Index a :class:`~codequest.workspace.Workspace` with embedding on Ray."""
    from codequest.index.persist import writer_lock

    with writer_lock(ws.cache_dir):
        if ws.uses_prebuilt:
            raise ClusterError("the Ray executor builds full indexes; drop --index")
        store = ws.local_store()
        return index_with_ray(
            ws.root,
            ws.config,
            store,
            ws.document_encoder,
            address=address,
            workers=workers,
            progress=progress,
        )
