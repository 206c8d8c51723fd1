"""The index's chunks: pieces of about CHUNK_CHARS characters that follow the syntax tree,
each with the definitions whose own line it holds.

Every line of code is in exactly one chunk, a chunk never runs far past the budget unless
one line or one leaf node is that long, and deep, broken or minified input is cut
without recursion and without losing code.
"""

from __future__ import annotations

import textwrap

import pytest

from codequest.chunking import CHUNK_CHARS, chunk_source, supported_languages
from codequest.chunking.pieces import line_pieces, pack
from codequest.chunking.sized import header_language
from codequest.types import ChunkKind
from helpers import CHUNKING_SAMPLES


def covered_rows(chunks: list, text: str) -> None:
    """Every non-blank line is in exactly one chunk, and chunks do not overlap."""
    lines = text.split("\n")
    owner: dict[int, int] = {}
    for i, chunk in enumerate(chunks):
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        for row in range(chunk.start_line, chunk.end_line + 1):
            assert row not in owner, f"line {row} in two chunks"
            owner[row] = i
    for row, line in enumerate(lines, 1):
        if line.strip():
            assert row in owner, f"line {row} ({line!r}) is in no chunk"


def sample(name: str) -> str:
    return (CHUNKING_SAMPLES / name).read_text(encoding="utf-8")


PYTHON = textwrap.dedent(
    '''
    import os


    class Store:
        """Keeps values by key."""

        def get(self, key):
            return self.data[key]

        def put(self, key, value):
            self.data[key] = value


    def {name}(path):
        """{doc}"""
        with open(path) as fh:
            return fh.read()
    '''
).lstrip()


def test_small_definitions_share_a_chunk_and_each_is_named() -> None:
    text = PYTHON.format(name="load", doc="Read a file.")
    chunks = chunk_source("m.py", "python", text)
    assert len(chunks) == 1
    names = [(d.symbol, d.kind, d.line) for d in chunks[0].defines]
    assert names == [
        ("Store", "class", 4),
        ("Store.get", "method", 7),
        ("Store.put", "method", 10),
        ("load", "function", 14),
    ]
    assert (chunks[0].symbol, chunks[0].kind) == ("Store", "class")
    assert chunks[0].defines[0].end == 11  # the class's last line


def test_a_long_definition_is_cut_and_its_pieces_keep_its_name() -> None:
    doc = "Read the file at path and return its text. " * 60
    text = PYTHON.format(name="load", doc=doc)
    chunks = chunk_source("m.py", "python", text)
    covered_rows(chunks, text)
    assert len(chunks) >= 3
    loads = [c for c in chunks if c.symbol == "load"]
    assert len(loads) >= 2  # the middle of a long function is still that function
    assert sum("load" in [d.symbol for d in c.defines] for c in chunks) == 1


def test_pieces_stay_near_the_budget() -> None:
    text = sample("trellis.rb")
    chunks = chunk_source("trellis.rb", "ruby", text)
    covered_rows(chunks, text)
    assert max(len(c.text) for c in chunks) <= 2 * CHUNK_CHARS
    small = chunk_source("trellis.rb", "ruby", text, budget=200)
    assert len(small) > len(chunks)


@pytest.mark.parametrize("path", sorted(p.name for p in CHUNKING_SAMPLES.iterdir()))
def test_every_sample_is_covered_once(path: str) -> None:
    from codequest.discovery.languages import detect_language

    text = sample(path)
    language = detect_language(path) or "text"
    chunks = chunk_source(path, language, text)
    assert chunks
    covered_rows(chunks, text)
    if language in supported_languages():
        assert any(c.defines for c in chunks)
        for chunk in chunks:
            for defined in chunk.defines:
                assert chunk.start_line <= defined.line <= chunk.end_line
                assert defined.end >= defined.line


def test_a_language_without_a_grammar_is_packed_by_lines() -> None:
    text = "\n".join(f"line {i} of a note that goes on for a while" for i in range(200))
    chunks = chunk_source("notes.txt", "text", text)
    covered_rows(chunks, text)
    assert all(c.kind == ChunkKind.WINDOW and c.defines == () for c in chunks)
    assert all(len(c.text) <= CHUNK_CHARS for c in chunks)


def test_deep_nesting_needs_no_recursion() -> None:
    depth = 5000
    text = "x = " + "[" * depth + "1" + "]" * depth + "\n"
    chunks = chunk_source("deep.py", "python", text)
    covered_rows(chunks, text)
    c_text = "int f(void) {\n" + "{\n" * 3000 + "return 0;\n" + "}\n" * 3000 + "}\n"
    covered_rows(chunk_source("deep.c", "c", c_text), c_text)


def test_broken_and_minified_input_keeps_every_line() -> None:
    broken = "def ok():\n    return 1\n\ndef broken(:\n    x = (\n\nclass Fine:\n    pass\n"
    chunks = chunk_source("b.py", "python", broken)
    covered_rows(chunks, broken)
    minified = "var a=1;" * 5000 + "\n"
    chunks = chunk_source("app.min.js", "javascript", minified)
    assert len(chunks) == 1 and chunks[0].start_line == chunks[0].end_line == 1


def test_blank_files_give_nothing_and_blank_edges_are_trimmed() -> None:
    assert chunk_source("e.py", "python", "\n\n   \n") == []
    chunks = chunk_source("e.py", "python", "\n\n\ndef f():\n    return 1\n\n\n")
    assert [(c.start_line, c.end_line) for c in chunks] == [(4, 5)]


def test_the_cut_is_deterministic() -> None:
    text = sample("trellis.rb")
    assert chunk_source("t.rb", "ruby", text) == chunk_source("t.rb", "ruby", text)


def test_cpp_headers_are_parsed_as_cpp() -> None:
    header = "namespace fmt {\ntemplate <typename T> class buffer {\n public:\n  T* data;\n};\n}\n"
    assert header_language("include/fmt/base.h", "c", header) == "cpp"
    assert header_language("src/uv.h", "c", "struct uv_loop_s { int n; };\n") == "c"
    chunks = chunk_source("include/fmt/base.h", "c", header)
    assert chunks[0].language == "cpp"
    assert [d.symbol for c in chunks for d in c.defines] == ["fmt.buffer"]


def test_pack_gives_shared_rows_to_the_first_span_and_gaps_to_the_next() -> None:
    lengths = [10] * 10
    assert pack([(0, 3), (3, 5), (8, 9)], lengths, budget=40) == [(0, 3), (4, 5), (6, 9)]
    assert pack([], [5, 5], budget=100) == [(0, 1)]
    assert line_pieces([30, 30, 30], budget=61) == [(0, 1), (2, 2)]
    assert line_pieces([], budget=10) == []


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="budget"):
        chunk_source("m.py", "python", "x = 1\n", budget=0)
