"""Where index runs embed: the ONNX document encoder, the embedding worker, the routing.

The worker runs the seeded hashing encoder here (no weights), except where the tiny BERT
teacher checks that the ONNX export gives the torch teacher's document vectors.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest

from codequest.config import Config
from codequest.encoders import (
    HashingEncoder,
    document_encoder_identity,
    load_resident_document_encoder,
    prepare_document_export,
    query_encoder_needs_build,
)
from codequest.encoders.onnx_document import _batches
from codequest.encoders.worker import EmbeddingWorker
from codequest.errors import EmbeddingCancelled, EncoderError, StoreError
from codequest.index import persist
from codequest.index.embedding import LeanEmbedder
from codequest.index.store import Store
from codequest.workspace import Workspace
from helpers import write_tree

HASHING = Config(model="hashing")
TEXTS = ["def read_json(path): return json.load(open(path))", "class Retry:\n    pass", "x"]


def hashing_worker(cancel: threading.Event | None = None) -> EmbeddingWorker:
    encoder = HashingEncoder()
    return EmbeddingWorker(HASHING, identity=encoder.identity, dim=encoder.dim, cancel=cancel)


def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- the ONNX document encoder -------------------------------------------------------------
def test_onnx_document_encoder_gives_the_torch_teachers_vectors(tiny_teacher: Path):
    from codequest.encoders.teacher import SentenceTransformerEncoder

    config = Config(model=str(tiny_teacher))
    assert load_resident_document_encoder(config) is None  # not exported yet
    prepare_document_export(config)
    onnx = load_resident_document_encoder(config)
    assert onnx is not None and onnx.identity == document_encoder_identity(config)
    torch = SentenceTransformerEncoder(str(tiny_teacher), device="cpu", bf16=False)
    # Short and long texts in one call (padding), and one past max_seq_length (truncation).
    texts = [*TEXTS, "parse the value " * 200, "def f(a, b):\n    return a + b\n" * 3]
    cosines = np.sum(onnx.encode_documents(texts) * torch.encode_documents(texts), axis=1)
    assert cosines.min() > 0.9999, cosines


def test_batches_cover_every_text_once_within_the_token_budget():
    lengths = [3, 250, 40, 256, 7, 128, 1, 256, 90] * 5
    ids = [[0] * n for n in lengths]
    batches = _batches(ids)
    assert sorted(i for batch in batches for i in batch) == list(range(len(ids)))
    for batch in batches:
        widest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or widest * len(batch) <= 1024


# -- the embedding worker ------------------------------------------------------------------
def test_the_worker_embeds_as_the_encoder_would_and_exits_when_closed():
    worker = hashing_worker()
    try:
        vectors = worker.encode_documents(TEXTS)
        np.testing.assert_allclose(vectors, HashingEncoder().encode_documents(TEXTS), atol=1e-6)
        assert worker.ready() and worker.load_seconds is not None
    finally:
        worker.close()
    assert worker.process.returncode == 0


def test_a_killed_worker_is_an_error_that_says_so():
    worker = hashing_worker()
    worker.encode_documents(TEXTS)
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(EncoderError, match="was killed by SIGKILL"):
        worker.encode_documents(TEXTS)


def test_cancelling_while_the_worker_works_kills_it():
    cancel = threading.Event()
    worker = hashing_worker(cancel)
    cancel.set()  # before the model has loaded: the wait notices within CANCEL_POLL
    with pytest.raises(EmbeddingCancelled):
        worker.encode_documents(TEXTS)
    assert worker.process.poll() is not None


# -- routing -------------------------------------------------------------------------------
def test_a_small_run_stays_here_and_a_large_one_goes_to_a_worker_that_ends_with_it():
    embedder = LeanEmbedder(small_run=10)
    identity, dim = HashingEncoder().identity, HashingEncoder().dim
    run = embedder.open_run(HASHING, identity, dim, None)
    try:
        run.encode_documents(TEXTS * 3)
        assert run.worker is None and run.embedded_here == 9
        run.encode_documents(TEXTS * 2)  # past small_run: a worker starts
        worker = run.worker
        assert worker is not None
        wait_until(worker.ready)
        vectors = run.encode_documents(TEXTS)
        assert run.embedded_by_worker == 3
        np.testing.assert_allclose(vectors, HashingEncoder().encode_documents(TEXTS), atol=1e-6)
        assert embedder.worker_pids() == [worker.pid]
    finally:
        run.close()
    assert worker.process.returncode == 0 and embedder.worker_pids() == []


def test_the_resident_encoder_is_released_when_idle():
    embedder = LeanEmbedder(idle_release=0.05)
    run = embedder.open_run(HASHING, HashingEncoder().identity, HashingEncoder().dim, None)
    run.encode_documents(TEXTS)
    assert embedder._resident is not None
    run.close()
    wait_until(lambda: embedder._resident is None)


def test_a_worker_killed_mid_run_leaves_a_valid_store_and_the_next_run_completes(
    tmp_path: Path,
):
    files = {
        f"pkg/mod_{i:03d}.py": f"def handler_{i:03d}(x):\n    return x + {i}\n" for i in range(80)
    }
    root = write_tree(tmp_path / "project", files)
    embedder = LeanEmbedder(small_run=0)
    ws = Workspace(root, Config(model="hashing"), embedder=embedder)
    killed: list[int] = []

    def kill_at_40(done: int, total: int, message: str) -> None:
        if done >= 40 and not killed:
            wait_until(lambda: bool(embedder.worker_pids()))
            killed.extend(embedder.worker_pids())
            os.kill(killed[0], signal.SIGKILL)
            os.waitid(os.P_PID, killed[0], os.WEXITED | os.WNOWAIT)  # dead, not yet reaped

    with pytest.raises(EncoderError, match="SIGKILL"):
        ws.index(progress=kill_at_40)
    saved = Store.load(ws.cache_dir, model=ws.model_identity)
    assert 0 < len(saved.files) < 80  # what was embedded before the kill, saved

    report = ws.index()
    assert report.files == 80 and report.embedded == 80 - len(saved.files)
    assert ws.search("handler_079")[0].symbol == "handler_079"
    assert embedder.worker_pids() == []


# -- model preparation ---------------------------------------------------------------------
def test_which_query_encoders_need_a_build_first(tmp_path: Path):
    assert not query_encoder_needs_build(HASHING, HashingEncoder().identity)
    teacher = "some-teacher@0123"
    assert query_encoder_needs_build(Config(query_encoder="teacher-int8"), teacher)
    assert query_encoder_needs_build(Config(query_encoder="auto"), teacher)  # its int8 export
    assert not query_encoder_needs_build(Config(query_encoder="teacher"), teacher)
    assert not query_encoder_needs_build(Config(query_encoder=str(tmp_path)), teacher)


# -- the store's rows, decoded one at a time -------------------------------------------------
def test_meta_rows_stream_as_they_were_written(tmp_path: Path):
    root = write_tree(tmp_path / "project", {"a.py": "def a():\n    return 1\n"})
    ws = Workspace(root, Config(model="hashing"))
    ws.index()
    raw = (ws.cache_dir / persist.META_FILE).read_bytes()
    head = len(persist.META_MAGIC) + persist.DIGEST_SIZE
    whole = msgpack.unpackb(raw[head:], raw=False, strict_map_key=False)
    streamed = persist.check_meta(raw, ws.cache_dir / persist.META_FILE)
    assert len(streamed["chunks"]) == len(whole["chunks"]) > 0
    assert list(streamed["chunks"]) == whole["chunks"] == list(streamed["chunks"])
    assert {k: v for k, v in streamed.items() if k != "chunks"} == {
        k: v for k, v in whole.items() if k != "chunks"
    }


def test_meta_whose_chunks_are_not_rows_is_refused(tmp_path: Path):
    root = write_tree(tmp_path / "project", {"a.py": "def a():\n    return 1\n"})
    ws = Workspace(root, Config(model="hashing"))
    ws.index()
    meta = ws.cache_dir / persist.META_FILE
    raw = meta.read_bytes()
    payload = msgpack.unpackb(raw[len(persist.META_MAGIC) + persist.DIGEST_SIZE :], raw=False)
    payload["chunks"] = {"not": "rows"}
    meta.write_bytes(persist.encode_meta(msgpack.packb(payload, use_bin_type=True)))
    with pytest.raises(StoreError, match="inconsistent"):
        Store.load(ws.cache_dir)
