"""What the tests share besides fixtures: sample projects, the one tree writer, the one BEIR
writer, chunk checks and a few records. Fixtures are in ``conftest.py``; the language
server's end-to-end helpers in ``lsp/lsp_helpers.py``."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codequest.chunking import MAX_CHUNK_CHARS, definition_chunks
from codequest.text import content_hash
from codequest.types import Chunk

# One function per language with a distinctive name, plus a test file and a CSV file
# that discovery must leave out (unsupported). Line numbers matter to some tests: keep them stable.
SAMPLE_PROJECT: dict[str, str] = {
    "app/io_utils.py": '''\
        import json


        def read_json_file(path):
            """Read a JSON document from disk."""
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)


        class Backoff:
            """Retry helper."""

            def retry_with_backoff(self, fn, attempts=5):
                delay = 0.1
                for _ in range(attempts):
                    try:
                        return fn()
                    except OSError:
                        delay *= 2
                raise RuntimeError("gave up")
        ''',
    "web/email.js": """\
        function parseEmailAddress(text) {
          const match = /^([^@]+)@(.+)$/.exec(text);
          return match ? { user: match[1], domain: match[2] } : null;
        }

        module.exports = { parseEmailAddress };
        """,
    "cmd/hash.go": """\
        package main

        import (
        \t"crypto/sha256"
        \t"encoding/hex"
        )

        func ComputeSha256(data []byte) string {
        \tsum := sha256.Sum256(data)
        \treturn hex.EncodeToString(sum[:])
        }
        """,
    "src/http.rs": """\
        use std::time::Duration;

        pub fn http_get_with_timeout(url: &str, seconds: u64) -> Result<String, String> {
            let timeout = Duration::from_secs(seconds);
            fetch(url, timeout)
        }
        """,
    "src/Slugify.java": """\
        public class Slugify {
            public static String slugifyTitle(String title) {
                return title.toLowerCase().replaceAll("[^a-z0-9]+", "-");
            }
        }
        """,
    "tests/test_io_utils.py": """\
        from app.io_utils import read_json_file


        def test_read_json_file(tmp_path):
            path = tmp_path / "x.json"
            path.write_text("{}")
            assert read_json_file(path) == {}
        """,
    "data/table.csv": "id,name\n1,not source code\n",
}

# The symbols of SAMPLE_PROJECT, by the path that defines them.
SAMPLE_SYMBOLS = {
    "read_json_file": "app/io_utils.py",
    "Backoff": "app/io_utils.py",
    "parseEmailAddress": "web/email.js",
    "ComputeSha256": "cmd/hash.go",
    "http_get_with_timeout": "src/http.rs",
    "Slugify": "src/Slugify.java",
}


def write_tree(root: Path, files: Mapping[str, str | bytes], *, dedent: bool = True) -> Path:
    """Create ``{"relative/path": content}`` under ``root``; str content is dedented."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content) if dedent else content, encoding="utf-8")
    return root


def tree_digest(root: Path, *, skip: tuple[str, ...] = (".codequest",)) -> dict[str, str]:
    """Path -> blake2b of every regular file under ``root`` (symlinks by their target text)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = "link:" + os.readlink(path)
                continue
            st = os.lstat(path)
            if not os.path.isfile(path):
                out[rel] = f"special:{st.st_mode:o}"
                continue
            h = hashlib.blake2b(digest_size=16)
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out[rel] = f"{st.st_size}:{h.hexdigest()}"
    return out


def chunk_defs(chunks: list[Chunk]) -> list[tuple[str, str, int, int]]:
    """``(kind, symbol, start_line, end_line)`` of every definition chunk, in order."""
    return [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks if c.kind != "window"]


def chunk_windows(chunks: list[Chunk]) -> list[tuple[int, int]]:
    return [(c.start_line, c.end_line) for c in chunks if c.kind == "window"]


def check_chunk_invariants(chunks: list[Chunk], text: str) -> None:
    """Text is exactly the lines of the range, never empty; output is sorted."""
    lines = text.split("\n")
    for chunk in chunks:
        assert chunk.text.strip()
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        expected = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        assert chunk.text == expected[:MAX_CHUNK_CHARS]
        assert chunk.content_hash == content_hash(
            chunk.language, chunk.kind, chunk.symbol, chunk.text
        )
    keys = [(c.start_line, c.end_line) for c in chunks]
    assert keys == sorted(keys)


def write_beir(
    folder: Path,
    corpus: Mapping[str, str | tuple[str, str]],
    queries: Mapping[str, str],
    qrels: Mapping[str, Sequence[tuple[str, str]]],
) -> Path:
    """A BEIR folder: ``corpus.jsonl`` (id -> text, or (title, text)), ``queries.jsonl``,
    and ``qrels/<split>.tsv`` with each (query id, doc id) pair relevant (score 1)."""
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for did, doc in corpus.items():
            title, text = doc if isinstance(doc, tuple) else ("", doc)
            record = {"_id": did, "text": text, **({"title": title} if title else {})}
            fh.write(json.dumps(record) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for split, pairs in qrels.items():
        rows = [f"{qid}\t{did}\t1" for qid, did in pairs]
        (folder / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n", encoding="utf-8"
        )
    return folder


# Libraries the shipped student's first-use build must do without: the training extra, and
# the training code itself.
TRAINING_MODULES = ("peft", "model2vec", "codequest.distill")


@dataclass(frozen=True, slots=True)
class BuiltStudent:
    """The shipped default student, built from its delta under the session's home."""

    name: str
    folder: Path
    note: str
    seconds: float
    training_modules: tuple[str, ...]  # of TRAINING_MODULES, those the build imported


def chunk_counting_nodes(path: str, language: str, text: str) -> tuple[list[Chunk], int]:
    """``definition_chunks``, and how many tree nodes its walk looked at: the walk must stay
    linear in the code's top levels, never enter function bodies, never loop."""
    from codequest.chunking import chunker

    looked_at = 0
    walker = chunker.DefinitionWalker

    class Counting(walker):  # type: ignore[misc, valid-type]
        def rule(self, node: Any) -> Any:
            nonlocal looked_at
            looked_at += 1
            return super().rule(node)

    chunker.DefinitionWalker = Counting  # type: ignore[misc]
    try:
        chunks = chunker.definition_chunks(path, language, text)
    finally:
        chunker.DefinitionWalker = walker  # type: ignore[misc]
    return chunks, looked_at


def check_consistent(store: Any) -> None:
    """The invariants any loaded store must satisfy, whatever happened before."""
    assert len(store.vectors) == len(store.chunks)
    ids = set(store.chunks)
    seen: set[int] = set()
    for path, record in store.files.items():
        assert record.path == path
        assert set(record.chunk_ids) <= ids
        assert not seen & set(record.chunk_ids)
        seen.update(record.chunk_ids)
        for cid in record.chunk_ids:
            assert store.chunks[cid].path == path
    assert seen == ids
    assert all(cid < store.next_id for cid in ids)


# -- distillation on a tiny teacher -------------------------------------------------------
DISTILL_WORDS = [
    "read",
    "write",
    "json",
    "file",
    "path",
    "open",
    "parse",
    "http",
    "header",
    "retry",
    "backoff",
    "delay",
    "sort",
    "list",
    "numbers",
    "merge",
    "dict",
    "keys",
    "values",
    "compute",
    "max",
    "min",
    "average",
    "string",
    "split",
    "join",
    "lines",
    "return",
    "the",
    "a",
    "of",
    "to",
    "from",
    "with",
    "for",
    "in",
    "is",
    "and",
    "load",
    "save",
    "config",
    "value",
]  # noqa: SIM905

DISTILL_PROJECT = {
    f"pkg/mod{i}.py": textwrap.dedent(
        f'''\
        def {a}_{b}_{i}(path, value):
            """{a.capitalize()} the {b} of a {c}. More text here."""
            # compute the {b} from the {c} value first
            data = open(path).read()
            return data, value


        class {a.capitalize()}{c.capitalize()}{i}:
            """Keeps the {c} and {a}s it."""

            def {b}_{c}(self):
                """Return the {b} {c} value."""
                x = 1
                return x
        '''
    )
    for i, (a, b, c) in enumerate(
        zip(DISTILL_WORDS[::3], DISTILL_WORDS[1::3], DISTILL_WORDS[2::3], strict=False)
    )
}


def make_tiny_teacher(folder: Path) -> Path:
    """A sentence-transformers folder: tiny random BERT (3 layers, dim 32), WordPiece vocab."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(DISTILL_WORDS))]
    vocab += [c for c in "abcdefghijklmnopqrstuvwxyz0123456789_.,():=\"'#"]
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789_"]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(folder / "hf")
    tokenizer.save_pretrained(folder / "hf")
    word = models.Transformer(str(folder / "hf"), max_seq_length=64)
    pooling = models.Pooling(32, pooling_mode="mean")
    st_folder = folder / "st"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(st_folder))
    return st_folder


def write_distill_eval_set(root: Path) -> Path:
    """A two-query BEIR set with a dev split (what model selection reads)."""
    docs = {
        "d1": "def read_json(path): return json.load(open(path))",
        "d2": "def sort_numbers(xs): return sorted(xs)",
        "d3": "def merge_dict(a, b): return {**a, **b}",
    }
    queries = {"q1": "read json file", "q2": "sort a list of numbers"}
    relevant = [("q1", "d1"), ("q2", "d2")]
    write_beir(root / "cosqa", docs, queries, {"dev": relevant, "test": relevant})
    return root


def write_distill_project(root: Path) -> Path:
    return write_tree(root, DISTILL_PROJECT, dedent=False)


# -- a small saved store (test_store, test_store_vectors) ---------------------------------
STORE_FILES = {
    "a.py": [("read_json_file", "def read_json_file(path):\n    return json.load(path)")],
    "b.go": [
        ("ComputeSha256", "func ComputeSha256(data []byte) string { return sha(data) }"),
        ("Reverse", "func Reverse(s string) string { return rev(s) }"),
    ],
    "c.js": [("parseEmailAddress", "function parseEmailAddress(text) { return split(text) }")],
}


def fill_store(store: Any, encoder: Any, files: Mapping[str, Any] = STORE_FILES) -> None:
    """Put ``files`` (path -> [(symbol, text)]) in ``store``, one chunk a definition."""
    from codequest.index.lexical import chunk_terms
    from codequest.index.records import ChunkRecord, FileRecord
    from codequest.text import line_units
    from codequest.types import DefinedName

    for path, defs in files.items():
        records = []
        for i, (symbol, text) in enumerate(defs):
            start, end = 1 + i * 5, 3 + i * 5
            record = ChunkRecord(
                0,
                path,
                "python",
                "function",
                symbol,
                start,
                end,
                f"hash-{path}-{symbol}",
                text.splitlines()[0],
                line_units(text.splitlines()[-1]),
                (DefinedName(symbol, "function", start, end),),
            )
            records.append((record, chunk_terms(path, symbol, text)))
        vectors = encoder.encode_documents([text for _, text in defs])
        store.put_file(FileRecord(path, "python", f"fh-{path}", 10, 20, ()), records, vectors)


def nearest(store: Any, encoder: Any, query: str, k: int = 4) -> list[int]:
    ids, _ = store.search_vectors(encoder.encode_query(query), k)
    return list(ids.tolist())


def rewrite_meta(directory: Path, **changes: object) -> None:
    """Re-encode meta.msgpack with some fields changed and a valid checksum."""
    import msgpack

    from codequest.index import persist

    raw = (directory / persist.META_FILE).read_bytes()
    body = raw[len(persist.META_MAGIC) + persist.DIGEST_SIZE :]
    payload = msgpack.unpackb(body, raw=False, strict_map_key=False)
    payload.update(changes)
    body = msgpack.packb(payload, use_bin_type=True)
    (directory / persist.META_FILE).write_bytes(persist.encode_meta(body))


def vectors_file(directory: Path) -> Path:
    (found,) = directory.glob("vectors-*.usearch")
    return found


# -- chunking samples (test_chunking*) ------------------------------------------------------
CHUNKING_SAMPLES = Path(__file__).parent / "chunking_samples"


def dedented(text: str) -> str:
    """An inline source sample as written in a test: dedented, leading newline dropped."""
    return textwrap.dedent(text).lstrip("\n")


def chunk_sample(name: str, language: str, **options: int) -> list[Chunk]:
    """The definition chunks of a file of ``chunking_samples/``, checked for invariants."""
    text = (CHUNKING_SAMPLES / name).read_text(encoding="utf-8")
    chunks = definition_chunks(name, language, text, **options)
    check_chunk_invariants(chunks, text)
    return chunks


def inline_defs(language: str, text: str, **options: int) -> list[tuple[str, str, int, int]]:
    """The definitions of an inline sample, its chunks checked for invariants."""
    text = dedented(text)
    chunks = definition_chunks("inline", language, text, **options)
    check_chunk_invariants(chunks, text)
    return chunk_defs(chunks)


# A class with a decorated method, a nested function and a nested class.
PYTHON_CLASS = dedented(
    '''
    import os
    import sys
    import json

    class Service:
        """Talks to the backend."""

        retries = 3

        def start(self):
            return os.getcwd()

        @property
        @functools.cache
        def bar(self):
            def helper():
                return 1
            return helper()

        class Config:
            def load(self):
                return json.loads("{}")
    '''
)
