"""The store's vectors: the read-only view, the writer lock, a long edit session's churn,
the search breadth, vector precision and reads of stored rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codequest.encoders import HashingEncoder
from codequest.errors import StoreError
from codequest.index import vectors as hnsw
from codequest.index.persist import writer_lock
from codequest.index.store import Store
from helpers import STORE_FILES, fill_store, nearest

# -- read-only view -----------------------------------------------------------------------


def test_read_only_view_searches_and_refuses_writes(saved: Store, encoder: HashingEncoder):
    view = Store.load(saved.directory, read_only=True)
    assert view.read_only
    assert nearest(view, encoder, "parse email address") == nearest(
        saved, encoder, "parse email address"
    )
    with pytest.raises(StoreError, match="read-only"):
        view.save()
    with pytest.raises(StoreError, match="read-only"):
        view.remove_file("a.py")
    with pytest.raises(StoreError, match="read-only"):
        fill_store(view, encoder, {"q.py": [("q", "def q(): pass")]})
    assert len(view.chunks) == 4


# -- lock ---------------------------------------------------------------------------------


def test_writer_lock_is_exclusive(tmp_path: Path):
    with writer_lock(tmp_path / "idx") as got:
        assert got is True
        # flock locks belong to the open file description: a second open conflicts.
        with writer_lock(tmp_path / "idx", wait=False) as second:
            assert second is False
    with writer_lock(tmp_path / "idx", wait=False) as again:
        assert again is True


# -- churn --------------------------------------------------------------------------------

CHURN_SCRIPT = """
import sys
import numpy as np
from codequest.encoders import DOCUMENT_RECIPE, HashingEncoder
from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.store import Store

enc = HashingEncoder(dim=32, seed=3)
store = Store(sys.argv[1], enc.identity, enc.dim)
rng = np.random.default_rng(0)

def put(path, count, tag):
    records = [
        (ChunkRecord(0, path, "python", "function", f"f{tag}_{i}", i, i, f"{path}-{tag}-{i}", "p"),
         {f"f{tag}": 1})
        for i in range(count)
    ]
    texts = [f"def f{tag}_{i}(): return {i}" for i in range(count)]
    store.put_file(FileRecord(path, "python", str(tag), 1, 1, ()), records,
                   enc.encode_documents(texts))

for f in range(40):
    put(f"f{f}.py", 4, 0)
for cycle in range(1, int(sys.argv[2]) + 1):
    put(f"f{int(rng.integers(40))}.py", int(rng.integers(1, 7)), cycle)
    if cycle % 500 == 0:
        store.save()
        store = Store.load(sys.argv[1])
assert len(store.vectors) == len(store.chunks), (len(store.vectors), len(store.chunks))
ids = np.fromiter(store.chunks, dtype=np.uint64)
assert all(v is not None for v in store.vectors.get(ids, dtype=np.float32))
found, _ = store.search_vectors(enc.encode_query("f1"), len(store.chunks))
assert set(found.tolist()) <= set(store.chunks)
print("OK", len(store.chunks))
"""


def test_a_long_edit_session_neither_hangs_nor_loses_vectors(tmp_path: Path):
    """usearch < 2.26 spins forever in remove() (or stops finding live keys) once its key
    table is full of tombstones, after about as many removals as its capacity; an editor
    session re-embedding one small project for an hour gets there. The store rebuilds the
    vector index before that point."""
    import subprocess
    import sys

    script = tmp_path / "churn.py"
    script.write_text(CHURN_SCRIPT)
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path / "idx"), "3000"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the store hung while files were replaced over and over")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OK")


def test_search_breadth_grows_with_the_index(saved: Store, encoder: HashingEncoder):
    # Large graphs need a wider HNSW search for the same recall; small ones stay cheap.
    assert hnsw.expansion_for(100_000) == hnsw.EXPANSION_SEARCH
    assert hnsw.expansion_for(1_000_000) == hnsw.EXPANSION_SEARCH_LARGE
    assert hnsw.EXPANSION_SEARCH < hnsw.EXPANSION_SEARCH_LARGE
    saved.vectors.expansion_search = 7  # whatever it was, a search sets the breadth it needs
    keys, _ = saved.search_vectors(encoder.encode_query("parse config"), 3)
    assert len(keys) == 3
    assert saved.vectors.expansion_search == hnsw.expansion_for(len(saved.vectors))


def test_vectors_of_returns_the_found_rows_in_order(saved: Store):
    ids = np.array([*sorted(saved.chunks)[:2][::-1], 10**9], np.int64)
    found, matrix = saved.vectors_of(ids)
    assert found.tolist() == [True, True, False] and matrix.shape == (2, saved.dim)
    expected = np.vstack([saved.vectors.get(int(i), dtype=np.float32) for i in ids[:2]])
    # Widening the stored f16 rows is exact, so this is the same as usearch's own cast.
    assert matrix.dtype == np.float32 and np.array_equal(matrix, expected)
    none_found, empty = saved.vectors_of(np.array([10**9, 10**9 + 1], np.int64))
    assert not none_found.any() and empty.shape == (0, saved.dim)
    assert saved.vectors_of(np.zeros(0, np.int64))[1].shape == (0, saved.dim)


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_either_vector_precision_round_trips_and_searches(
    tmp_path: Path, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch, dtype: str
):
    monkeypatch.setattr(hnsw, "preferred_vector_dtype", lambda: dtype)
    store = Store(tmp_path / "idx", encoder.identity, encoder.dim)
    fill_store(store, encoder)
    store.save()
    loaded = Store.load(tmp_path / "idx", model=encoder.identity)
    assert str(loaded.vectors.dtype).lower().endswith(dtype)
    ids = np.array(sorted(loaded.chunks), np.int64)
    found, matrix = loaded.vectors_of(ids)
    expected = np.vstack([loaded.vectors.get(int(i), dtype=np.float32) for i in ids])
    assert found.all() and np.array_equal(matrix, expected)
    # Two bytes a dimension keep the vectors to within bf16's rounding of the originals.
    originals = encoder.encode_documents(
        [text for defs in STORE_FILES.values() for _, text in defs]
    )
    assert np.abs(matrix - originals).max() < 0.01
    assert nearest(loaded, encoder, "parse email address", 1) == nearest(
        store, encoder, "parse email address", 1
    )
    # A rebuild (after many removals) keeps the precision the index was built with.
    other = "f16" if dtype == "bf16" else "bf16"
    monkeypatch.setattr(hnsw, "preferred_vector_dtype", lambda: other)
    loaded._rebuild_vectors()
    assert str(loaded.vectors.dtype).lower().endswith(dtype)


def test_bf16_is_preferred_only_with_a_native_kernel(monkeypatch: pytest.MonkeyPatch):
    import usearch.index

    class FakeIndex:
        kernel = "genoa"

        def __init__(self, **_: object) -> None:
            self.hardware_acceleration = FakeIndex.kernel

    monkeypatch.setattr(usearch.index, "Index", FakeIndex)
    for kernel, expected in (("genoa", "bf16"), ("skylake", "f16"), ("serial", "f16")):
        FakeIndex.kernel = kernel
        hnsw.preferred_vector_dtype.cache_clear()
        assert hnsw.preferred_vector_dtype() == expected
    hnsw.preferred_vector_dtype.cache_clear()


def test_vectors_of_reads_a_float32_index_too(saved: Store):
    from usearch.index import Index

    ids = np.array(sorted(saved.chunks)[:3], np.int64)
    rows = np.vstack([saved.vectors.get(int(i), dtype=np.float32) for i in ids])
    wide = Index(ndim=saved.dim, metric="cos", dtype="f32")
    wide.add(ids.astype(np.uint64), rows)
    saved.vectors = wide
    found, matrix = saved.vectors_of(ids[::-1])
    assert found.all() and matrix.dtype == np.float32
    assert np.array_equal(matrix, rows[::-1])
