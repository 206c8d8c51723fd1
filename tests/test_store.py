"""The persisted store: round trip, every way a store on disk can be broken, atomicity."""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import numpy as np
import pytest

from codequest.encoders import DOCUMENT_RECIPE, HashingEncoder
from codequest.errors import StoreError
from codequest.index import persist
from codequest.index.persist import DIGEST_SIZE, META_FILE, META_MAGIC
from codequest.index.records import ChunkRecord, FileRecord
from codequest.index.store import Store
from codequest.types import DefinedName
from helpers import fill_store, nearest, rewrite_meta, vectors_file

# -- round trip ---------------------------------------------------------------------------


def test_round_trip_restores_records_vocab_and_keys(saved: Store, encoder: HashingEncoder):
    loaded = Store.load(saved.directory, model=encoder.identity)
    assert loaded.chunks == saved.chunks
    assert loaded.files == saved.files
    assert loaded.vocab == saved.vocab
    assert loaded.vocab_ids == saved.vocab_ids
    assert loaded.next_id == saved.next_id
    assert loaded.generation == saved.generation == 1
    assert loaded.by_hash == saved.by_hash
    for cid, (terms, counts) in saved.terms.items():
        np.testing.assert_array_equal(loaded.terms[cid][0], terms)
        np.testing.assert_array_equal(loaded.terms[cid][1], counts)
    # The usearch keys are our chunk ids: the same query finds the same ids after loading.
    for query in ("read json file", "compute sha256", "parse email address"):
        assert nearest(loaded, encoder, query) == nearest(saved, encoder, query)
    top = nearest(loaded, encoder, "parse email address")[0]
    assert loaded.chunks[top].symbol == "parseEmailAddress"
    for cid in loaded.chunks:
        np.testing.assert_allclose(
            loaded.vectors.get(cid, dtype=np.float32),
            saved.vectors.get(cid, dtype=np.float32),
            atol=1e-3,
        )


def test_ids_are_never_reused_after_removal_and_reload(saved: Store, encoder: HashingEncoder):
    old_ids = set(saved.chunks)
    go_ids = set(saved.files["b.go"].chunk_ids)
    saved.remove_file("b.go")
    saved.save()
    loaded = Store.load(saved.directory)
    assert set(loaded.chunks) == old_ids - go_ids
    assert "b.go" not in loaded.files
    assert not go_ids & set(nearest(loaded, encoder, "compute sha256", k=10))
    fill_store(loaded, encoder, {"d.py": [("fresh", "def fresh(): pass")]})
    (new_id,) = loaded.files["d.py"].chunk_ids
    assert new_id not in old_ids


def test_put_file_replaces_previous_chunks_of_that_path(saved: Store, encoder: HashingEncoder):
    before = len(saved.chunks)
    fill_store(saved, encoder, {"b.go": [("Only", "func Only() {}")]})
    assert len(saved.chunks) == before - 1
    assert len(saved.vectors) == len(saved.chunks)
    assert [saved.chunks[c].symbol for c in saved.files["b.go"].chunk_ids] == ["Only"]


def test_put_file_rejects_mismatched_vectors(tmp_path: Path, encoder: HashingEncoder):
    store = Store(tmp_path, encoder.identity, encoder.dim)
    with pytest.raises(ValueError, match="1 chunks but 2 vectors for x.py"):
        store.put_file(
            FileRecord("x.py", "python", "h", 1, 1, ()),
            [(ChunkRecord(0, "x.py", "python", "function", "f", 1, 1, "c", "p"), {"f": 1})],
            np.zeros((2, encoder.dim), np.float32),
        )


def test_vector_for_hash_finds_a_stored_vector(saved: Store, encoder: HashingEncoder):
    vec = saved.vector_for_hash("hash-a.py-read_json_file")
    assert vec is not None and vec.shape == (encoder.dim,)
    text = "def read_json_file(path):\n    return json.load(path)"
    assert float(vec @ encoder.encode_query(text)) > 0.99
    assert saved.vector_for_hash("no-such-hash") is None


def test_peek_generation(saved: Store, tmp_path: Path):
    assert Store.peek_generation(saved.directory) == 1
    saved.save()
    assert Store.peek_generation(saved.directory) == 2
    assert Store.peek_generation(tmp_path / "nowhere") is None


# -- broken stores ------------------------------------------------------------------------


def test_missing_store(tmp_path: Path):
    with pytest.raises(StoreError, match="no index at"):
        Store.load(tmp_path / "absent")


@pytest.mark.parametrize("keep", [0, 4, len(META_MAGIC) + DIGEST_SIZE - 1])
def test_meta_truncated_inside_the_header(saved: Store, keep: int):
    meta = saved.directory / META_FILE
    meta.write_bytes(meta.read_bytes()[:keep])
    with pytest.raises(StoreError, match="not a CodeQuest index file"):
        Store.load(saved.directory)


def test_meta_truncated_in_the_body(saved: Store):
    meta = saved.directory / META_FILE
    raw = meta.read_bytes()
    meta.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StoreError, match="corrupt or truncated"):
        Store.load(saved.directory)


@pytest.mark.parametrize("where", ["magic", "digest", "body-start", "body-end"])
def test_one_flipped_byte_in_meta_is_detected(saved: Store, where: str):
    meta = saved.directory / META_FILE
    raw = bytearray(meta.read_bytes())
    offset = {
        "magic": 2,
        "digest": len(META_MAGIC) + 3,
        "body-start": len(META_MAGIC) + DIGEST_SIZE + 1,
        "body-end": len(raw) - 1,
    }[where]
    raw[offset] ^= 0x01
    meta.write_bytes(bytes(raw))
    with pytest.raises(StoreError) as info:
        Store.load(saved.directory)
    assert META_FILE in info.value.reason


def test_meta_with_a_valid_checksum_but_garbage_payload(saved: Store):
    body = b"\xc1\xc1\xc1"  # 0xc1 is never used in msgpack
    (saved.directory / META_FILE).write_bytes(persist.encode_meta(body))
    with pytest.raises(StoreError, match="cannot be decoded"):
        Store.load(saved.directory)
    body = msgpack.packb([1, 2, 3])
    (saved.directory / META_FILE).write_bytes(persist.encode_meta(body))
    with pytest.raises(StoreError, match="does not hold an index record"):
        Store.load(saved.directory)


def test_meta_with_missing_fields_is_reported_not_raised(saved: Store):
    rewrite_meta(saved.directory, chunks=[[1, "a.py"]])
    with pytest.raises(StoreError, match="inconsistent"):
        Store.load(saved.directory)
    rewrite_meta(saved.directory, chunks=[], dim=None)
    with pytest.raises(StoreError):
        Store.load(saved.directory)


def test_vectors_file_truncated(saved: Store):
    path = vectors_file(saved.directory)
    os.truncate(path, path.stat().st_size - 7)
    with pytest.raises(StoreError, match=r"vectors-1\.usearch are truncated"):
        Store.load(saved.directory)


def test_vectors_file_corrupt_with_the_same_size(saved: Store):
    path = vectors_file(saved.directory)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="corrupt"):
        Store.load(saved.directory)


def test_vectors_file_missing(saved: Store):
    vectors_file(saved.directory).unlink()
    with pytest.raises(StoreError, match="are missing"):
        Store.load(saved.directory)


def test_vector_count_mismatch(saved: Store, encoder: HashingEncoder):
    rewrite_meta(saved.directory, chunks=[])
    with pytest.raises(StoreError, match="4 vectors for 0 chunks"):
        Store.load(saved.directory)


def test_format_version_mismatch(saved: Store):
    rewrite_meta(saved.directory, format=99)
    with pytest.raises(StoreError, match="format version 99, this CodeQuest reads versions 1, 2"):
        Store.load(saved.directory)


def test_end_line_lengths_round_trip(saved: Store):
    assert all(r.end_units is not None for r in saved.chunks.values())
    loaded = Store.load(saved.directory)
    assert loaded.chunks == saved.chunks


def test_format_1_store_loads_without_end_line_lengths_and_saves_as_format_3(saved: Store):
    raw = (saved.directory / META_FILE).read_bytes()
    payload = msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], raw=False)
    old_rows = [row[:11] for row in payload["chunks"]]  # format 1: no end lengths
    rewrite_meta(saved.directory, format=1, chunks=old_rows)
    loaded = Store.load(saved.directory)
    assert [r.end_units for r in loaded.chunks.values()] == [None] * len(saved.chunks)
    assert {cid: r.preview for cid, r in loaded.chunks.items()} == {
        cid: r.preview for cid, r in saved.chunks.items()
    }
    loaded.save()
    raw = (saved.directory / META_FILE).read_bytes()
    assert msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], raw=False)["format"] == 3
    assert Store.load(saved.directory).chunks == loaded.chunks


def test_format_2_store_loads_without_defined_names(saved: Store):
    assert any(r.defined_names for r in saved.chunks.values())
    raw = (saved.directory / META_FILE).read_bytes()
    payload = msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], raw=False)
    rewrite_meta(saved.directory, format=2, chunks=[row[:12] for row in payload["chunks"]])
    loaded = Store.load(saved.directory)
    assert all(r.defines == () for r in loaded.chunks.values())
    assert {cid: r.end_units for cid, r in loaded.chunks.items()} == {
        cid: r.end_units for cid, r in saved.chunks.items()
    }


def test_defined_names_round_trip(saved: Store):
    names = {cid: r.defined_names for cid, r in saved.chunks.items()}
    assert any(len(d) > 0 for d in names.values())
    loaded = Store.load(saved.directory)
    assert {cid: r.defined_names for cid, r in loaded.chunks.items()} == names
    first = next(d for d in names.values() if d)[0]
    assert isinstance(first.symbol, str) and isinstance(first.line, int) and first.kind


def test_document_recipe_is_saved_and_checked(saved: Store, encoder: HashingEncoder):
    raw = (saved.directory / META_FILE).read_bytes()
    payload = msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], raw=False)
    assert payload["recipe"] == DOCUMENT_RECIPE
    loaded = Store.load(saved.directory, model=encoder.identity, recipe=DOCUMENT_RECIPE)
    assert loaded.chunks == saved.chunks
    rewrite_meta(saved.directory, recipe=DOCUMENT_RECIPE + 1)
    with pytest.raises(StoreError) as info:
        Store.load(saved.directory, recipe=DOCUMENT_RECIPE)
    assert info.value.reason == (
        f"index at {saved.directory} was embedded with document recipe "
        f"{DOCUMENT_RECIPE + 1}, this CodeQuest embeds with recipe {DOCUMENT_RECIPE}"
    )
    # Without a recipe to check (synthetic benchmark stores) any recipe loads.
    assert Store.load(saved.directory).chunks == saved.chunks


def test_store_from_before_the_recipe_field_counts_as_recipe_1(saved: Store):
    raw = (saved.directory / META_FILE).read_bytes()
    payload = msgpack.unpackb(raw[len(META_MAGIC) + DIGEST_SIZE :], raw=False)
    del payload["recipe"]
    body = msgpack.packb(payload, use_bin_type=True)
    (saved.directory / META_FILE).write_bytes(persist.encode_meta(body))
    with pytest.raises(StoreError, match="document recipe 1, this CodeQuest embeds"):
        Store.load(saved.directory, recipe=DOCUMENT_RECIPE)


def test_model_mismatch(saved: Store, encoder: HashingEncoder):
    with pytest.raises(StoreError) as info:
        Store.load(saved.directory, model="all-MiniLM-L6-v2@abc")
    assert info.value.reason == (
        f"index at {saved.directory} was built with model {encoder.identity!r}, "
        "but 'all-MiniLM-L6-v2@abc' is configured"
    )
    assert Store.load(saved.directory).model == encoder.identity  # no model: no check


# -- atomicity ----------------------------------------------------------------------------


def test_save_keeps_one_generation_and_cleans_stale_temporary_files(saved: Store):
    directory = saved.directory
    stale = [
        directory / ".vectors-7.usearch.999999.tmp",
        directory / f".{META_FILE}.999999.1.tmp",
    ]
    for path in stale:
        path.write_bytes(b"left by a killed writer")
    (directory / "vectors-0.usearch").write_bytes(b"old generation")
    saved.save()
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["meta.msgpack", "vectors-2.usearch"]
    Store.load(directory)


def test_a_failed_vectors_write_leaves_the_previous_store(
    saved: Store, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
):
    before = (saved.directory / META_FILE).read_bytes()
    fill_store(saved, encoder, {"z.py": [("zeta", "def zeta(): pass")]})

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persist, "atomic_write_bytes", fail)
    with pytest.raises(OSError):
        saved.save()
    assert (saved.directory / META_FILE).read_bytes() == before
    loaded = Store.load(saved.directory)
    assert "z.py" not in loaded.files and len(loaded.chunks) == 4


def test_a_new_store_never_overwrites_the_vectors_an_old_meta_names(
    saved: Store, encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
):
    """A fresh store (rebuild after a model change) saved over an old one, killed before
    its meta is written, must leave the old pair loadable."""
    fresh = Store(saved.directory, "other-model", encoder.dim)
    fill_store(fresh, encoder, {"n.py": [("n", "def n(): pass")]})

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # stands in for a kill between vectors and meta

    monkeypatch.setattr(persist, "atomic_write_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        fresh.save()
    monkeypatch.undo()
    loaded = Store.load(saved.directory)
    assert loaded.model == encoder.identity and len(loaded.chunks) == 4


def test_a_chunk_that_is_one_definition_keeps_no_separate_name():
    from codequest.index.records import ChunkRecord

    own = DefinedName("Parser.parse", "method", 10, 20)
    record = ChunkRecord(
        1, "p.py", "python", "method", "Parser.parse", 10, 20, "h", "", None, (own,)
    )
    assert record.defines is None and record.defined_names == (own,)
    inner = DefinedName("Parser.parse", "method", 10, 40)  # the chunk is a piece of it
    piece = ChunkRecord(
        2, "p.py", "python", "method", "Parser.parse", 10, 20, "h", "", None, (inner,)
    )
    assert piece.defines == (inner,) and piece.defined_names == (inner,)
    assert ChunkRecord(3, "p.py", "python", "window", "", 1, 5, "h", "").defined_names == ()
