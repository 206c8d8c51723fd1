"""Chunking beyond definitions: line windows, gaps, oversized definitions, deep nesting,
minified files, syntax errors, content hashes, determinism and options.
"""

from __future__ import annotations

import pytest

from codequest.chunking import MAX_CHUNK_CHARS, definition_chunks, supported_languages
from codequest.discovery.languages import TREE_SITTER_LANGUAGES
from codequest.text import content_hash
from helpers import (
    PYTHON_CLASS,
    check_chunk_invariants,
    chunk_counting_nodes,
    chunk_defs,
    chunk_windows,
    dedented,
)


def test_unknown_language_gets_overlapping_windows_over_every_line() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 201)) + "\n"
    chunks = definition_chunks("notes.pl", "perl", text)
    assert chunk_windows(chunks) == [(1, 60), (46, 105), (91, 150), (136, 195), (181, 200)]
    assert all(c.kind == "window" and c.symbol == "" for c in chunks)
    covered = {line for c in chunks for line in range(c.start_line, c.end_line + 1)}
    assert covered == set(range(1, 201))
    check_chunk_invariants(chunks, text)


def test_short_file_without_definitions_is_still_one_window() -> None:
    assert chunk_windows(definition_chunks("x.py", "python", "import os\n")) == [(1, 1)]
    assert chunk_windows(definition_chunks("x.lua", "lua", "\n\nprint(1)\n\n")) == [(3, 3)]


def test_oversized_definition_is_split_into_windows_with_its_symbol() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(199))
    text = "def big():\n" + body
    chunks = definition_chunks("b.py", "python", text)
    assert chunk_defs(chunks) == [
        ("function", "big", 1, 60),
        ("function", "big", 46, 105),
        ("function", "big", 91, 150),
        ("function", "big", 136, 195),
        ("function", "big", 181, 200),
    ]
    check_chunk_invariants(chunks, text)


def test_gaps_between_definitions_become_windows_unless_tiny() -> None:
    text = dedented(
        """
        import a
        import b
        import c

        def f():
            pass

        x = 1

        def g():
            pass

        if __name__ == "__main__":
            f()
            g()
        """
    )
    chunks = definition_chunks("m.py", "python", text)
    # `x = 1` (one line) is too small for a window; the import block and main are not.
    assert chunk_windows(chunks) == [(1, 3), (13, 15)]
    assert chunk_defs(chunks) == [("function", "f", 5, 6), ("function", "g", 10, 11)]


NESTED = 10_000


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("python", "x = " + "[\n" * NESTED + "]\n" * NESTED),
        ("python", "x = " + "(" * 9_000 + ")" * 9_000 + "\n"),
        ("python", "".join(" " * i + "if x:\n" for i in range(1_500)) + " " * 1_500 + "pass\n"),
        ("javascript", "if (a) {\n" * NESTED + "}\n" * NESTED),
        ("javascript", "function f() {\n" + "if (a) {\n" * NESTED + "}\n" * NESTED + "}\n"),
        ("c", "int f(void) {\n" + "{\n" * NESTED + "}\n" * NESTED + "}\n"),
        ("c", "#ifdef X\n" * NESTED + "int g(void) { return 0; }\n" + "#endif\n" * NESTED),
        ("cpp", "namespace a {\n" * NESTED + "int h() { return 0; }\n" + "}\n" * NESTED),
    ],
)
def test_deep_nesting_neither_overflows_nor_stalls(language: str, text: str) -> None:
    chunks, looked_at = chunk_counting_nodes("deep", language, text)
    # The walk looks at each line's nodes a bounded number of times: no recursion to
    # overflow, no revisits to stall on. (Speed is codequest bench's: indexing.)
    assert looked_at <= 2 * (text.count("\n") + 1) + 100
    assert chunks
    check_chunk_invariants(chunks, text)


def test_definitions_deep_inside_scopes_are_found() -> None:
    text = "#ifdef X\n" * NESTED + "int g(void) { return 0; }\n" + "#endif\n" * NESTED
    assert ("function", "g", NESTED + 1, NESTED + 1) in chunk_defs(
        definition_chunks("d.c", "c", text)
    )
    text = "namespace a {\n" * 50 + "int h() { return 0; }\n" + "}\n" * 50
    assert chunk_defs(definition_chunks("d.cpp", "cpp", text)) == [
        ("function", "a." * 50 + "h", 51, 51)
    ]


def test_minified_single_line_file_is_one_capped_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    from codequest.chunking import chunker

    parsed: list[str] = []
    monkeypatch.setattr(chunker, "parser", parsed.append)  # a parse would fail here
    text = "var a=function(){return 1};" * 200_000  # about 5 MB on one line
    chunks = definition_chunks("app.min.js", "javascript", text)
    assert parsed == []  # never parsed: one capped window is all it costs
    assert [(c.kind, c.start_line, c.end_line) for c in chunks] == [("window", 1, 1)]
    assert chunks[0].text == text[:MAX_CHUNK_CHARS]


def test_syntax_errors_keep_what_parsed() -> None:
    text = dedented(
        """
        def good():
            return 1

        x = = 2
        y ==
        z = 3 +

        def broken(:
            pass
            x = = 2

        def also_good():
            return 4
        """
    )
    chunks = definition_chunks("e.py", "python", text)
    assert chunk_defs(chunks) == [
        ("function", "good", 1, 2),
        ("function", "broken", 8, 10),
        ("function", "also_good", 12, 13),
    ]
    assert chunk_windows(chunks) == [(4, 6)]  # the garbage between them is still searchable
    check_chunk_invariants(chunks, text)

    js = "function a() {\n  return 1;\n}\nfunction b( {\n x\n}\nfunction c() { return 2; }\n"
    js_chunks = definition_chunks("e.js", "javascript", js)
    assert ("function", "a", 1, 3) in chunk_defs(js_chunks)
    assert "c" in {c.symbol for c in js_chunks}


def test_content_hash_is_stable_and_sensitive() -> None:
    base = content_hash("python", "function", "f", "def f(): pass")
    assert base == content_hash("python", "function", "f", "def f(): pass")
    assert len(base) == 32 and int(base, 16) >= 0
    variants = [
        content_hash("cython", "function", "f", "def f(): pass"),
        content_hash("python", "method", "f", "def f(): pass"),
        content_hash("python", "function", "g", "def f(): pass"),
        content_hash("python", "function", "f", "def f(): pass "),
        # Field boundaries matter: moving a character between fields changes the hash.
        content_hash("python", "functionf", "", "def f(): pass"),
    ]
    assert len({base, *variants}) == len(variants) + 1
    assert content_hash("python", "window", "", "x = '\udcff'")  # surrogates do not raise


def test_chunks_are_deterministic_and_path_independent_in_hash() -> None:
    first = definition_chunks("a/x.py", "python", PYTHON_CLASS, small_class_lines=5)
    second = definition_chunks("b/y.py", "python", PYTHON_CLASS, small_class_lines=5)
    assert [c.content_hash for c in first] == [c.content_hash for c in second]
    assert first == definition_chunks("a/x.py", "python", PYTHON_CLASS, small_class_lines=5)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_empty_files_give_no_chunks(text: str) -> None:
    assert definition_chunks("e.py", "python", text) == []
    assert definition_chunks("e.txt", "text", text) == []


@pytest.mark.parametrize(
    "options",
    [{"window_lines": 0}, {"window_overlap": 60}, {"window_overlap": -1}, {"max_chunk_lines": 0}],
)
def test_invalid_options_are_rejected_with_their_values(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=str(next(iter(options.values())))):
        definition_chunks("f.py", "python", "x = 1\n", **options)


def test_supported_languages_match_the_language_table() -> None:
    assert supported_languages() == TREE_SITTER_LANGUAGES


def test_decorators_and_templates_start_their_definitions() -> None:
    ts = dedented(
        """
        @Component({
          selector: "x-widget",
        })
        export class Widget {
          name = "w";
          @HostListener("click")
          onClick(): void {}
        }
        """
    )
    assert chunk_defs(definition_chunks("w.ts", "typescript", ts, small_class_lines=3)) == [
        ("class", "Widget", 1, 5),
        ("method", "Widget.onClick", 6, 7),
    ]
    cpp = dedented(
        """
        template <class T>
        class Vec final : public Base {
         public:
          void push(T v) { data.push_back(v); }
        };
        template <> void Vec<int>::push(int v) {}
        """
    )
    assert chunk_defs(definition_chunks("v.hpp", "cpp", cpp, small_class_lines=2)) == [
        ("class", "Vec", 1, 3),
        ("method", "Vec.push", 4, 4),
        ("method", "Vec.push", 6, 6),
    ]


def test_one_long_line_does_not_hide_the_definitions_around_it() -> None:
    blob = "DATA = '" + "A" * 30_000 + "'\n"
    funcs = "".join(f"def func_{i}():\n    return {i}\n\n\n" for i in range(12))
    chunks = definition_chunks("gen.py", "python", blob + funcs)
    symbols = {c.symbol for c in chunks}
    assert {f"func_{i}" for i in range(12)} <= symbols
    assert all(len(c.text) <= 20_000 for c in chunks)
