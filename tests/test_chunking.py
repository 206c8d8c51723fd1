"""Chunking: definitions per grammar, windows for the rest, and the hard inputs."""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from codequest.chunking import MAX_CHUNK_CHARS, chunk_source, supported_languages
from codequest.discovery.languages import TREE_SITTER_LANGUAGES
from codequest.text import content_hash
from helpers import check_chunk_invariants, chunk_counting_nodes, chunk_defs, chunk_windows


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


PYTHON_CLASS = _src(
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


def test_python_large_class_is_split_into_header_and_methods() -> None:
    chunks = chunk_source("svc.py", "python", PYTHON_CLASS, small_class_lines=5)
    assert chunk_defs(chunks) == [
        ("class", "Service", 5, 9),
        ("method", "Service.start", 10, 11),
        # The decorated method starts at its first decorator; the nested def stays inside.
        ("method", "Service.bar", 13, 18),
        ("class", "Service.Config", 20, 22),
    ]
    assert chunk_windows(chunks) == [(1, 3)]
    assert all(c.path == "svc.py" and c.language == "python" for c in chunks)
    check_chunk_invariants(chunks, PYTHON_CLASS)


def test_python_small_class_is_one_chunk() -> None:
    chunks = chunk_source("svc.py", "python", PYTHON_CLASS)
    assert chunk_defs(chunks) == [("class", "Service", 5, 22)]


def test_python_class_over_default_threshold_is_split() -> None:
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(15))
    text = "class Big:\n    x = 1\n\n" + methods
    defs = chunk_defs(chunk_source("big.py", "python", text))
    assert defs[0] == ("class", "Big", 1, 3)
    assert defs[1] == ("method", "Big.m0", 4, 5)
    assert len(defs) == 16


def test_python_module_level_conditionals_and_comments() -> None:
    text = _src(
        """
        try:
            import ujson as json
        except ImportError:
            def dumps(value):
                return str(value)

        # Adds numbers.
        # Two comment lines.
        def add(a, b):
            return a + b
        """
    )
    chunks = chunk_source("m.py", "python", text)
    assert chunk_defs(chunks) == [("function", "dumps", 4, 5), ("function", "add", 7, 10)]
    check_chunk_invariants(chunks, text)


def test_comment_above_the_first_member_goes_with_the_member() -> None:
    # The grammar keeps this comment in the class, outside the block that holds the method.
    text = _src(
        """
        class TestBasic:

            # simple http: GET
            def test_get(self, env):
                return env
        """
    )
    assert chunk_defs(chunk_source("t.py", "python", text, small_class_lines=2)) == [
        ("class", "TestBasic", 1, 2),
        ("method", "TestBasic.test_get", 3, 5),
    ]


GO_SOURCE = _src(
    """
    package server

    // Server serves requests.
    type Server struct {
    \taddr string
    }

    // Start begins listening.
    func (s *Server) Start() error {
    \treturn nil
    }

    func (c Cache[K]) Get(key K) {}

    func main() {}

    type (
    \tHandler interface{ Serve() }
    \tID = string
    )
    """
)


def test_go_receivers_types_and_doc_comments() -> None:
    assert chunk_defs(chunk_source("s.go", "go", GO_SOURCE)) == [
        ("struct", "Server", 3, 6),
        ("method", "Server.Start", 8, 11),
        ("method", "Cache.Get", 13, 13),
        ("function", "main", 15, 15),
        ("interface", "Handler", 18, 18),
        ("type", "ID", 19, 19),
    ]


RUST_SOURCE = _src(
    """
    use std::fmt;

    /// A point.
    #[derive(Debug)]
    pub struct Point {
        x: i32,
    }

    impl Point {
        pub fn new() -> Self {
            Point { x: 0 }
        }
    }

    impl<T> fmt::Display for Wrapper<T> {
        fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
            Ok(())
        }
    }

    pub trait Shape {
        fn area(&self) -> f64;
        fn name(&self) -> String {
            String::new()
        }
    }

    enum Color { Red }

    mod tests {
        fn it_works() {}
    }
    """
)


def test_rust_impl_methods_traits_and_modules() -> None:
    chunks = chunk_source("p.rs", "rust", RUST_SOURCE, small_class_lines=3)
    assert chunk_defs(chunks) == [
        ("struct", "Point", 3, 7),
        ("method", "Point.new", 10, 12),
        ("method", "Wrapper.fmt", 16, 18),
        ("trait", "Shape", 21, 22),
        ("method", "Shape.name", 23, 25),
        ("enum", "Color", 28, 28),
        ("function", "tests.it_works", 31, 31),
    ]
    # The small-trait default keeps the trait whole.
    assert ("trait", "Shape", 21, 26) in chunk_defs(chunk_source("p.rs", "rust", RUST_SOURCE))


JAVA_SOURCE = _src(
    """
    package demo;

    import java.util.List;

    /** A bank account. */
    public class Account {
        private long balance;

        /** Opens an account. */
        public Account(long initial) {
            this.balance = initial;
        }

        @Override
        public String toString() {
            return "Account";
        }

        enum State { OPEN, CLOSED }
    }
    """
)


def test_java_constructor_methods_and_nested_enum() -> None:
    chunks = chunk_source("Account.java", "java", JAVA_SOURCE, small_class_lines=5)
    assert chunk_defs(chunks) == [
        ("class", "Account", 5, 8),
        ("method", "Account.Account", 9, 12),
        ("method", "Account.toString", 14, 17),
        ("enum", "Account.State", 19, 19),
    ]


C_SOURCE = _src(
    """
    #include <stdlib.h>

    typedef struct {
        int x;
    } Point;

    struct node { int value; struct node *next; };

    /* Allocates a name. */
    static char *make_name(int n)
    {
        return malloc(n);
    }

    void (*signal(int sig, void (*func)(int)))(int) { return 0; }

    #ifdef DEBUG
    int debug_level(void) { return 1; }
    #endif
    """
)


def test_c_functions_with_pointer_declarators_and_records() -> None:
    assert chunk_defs(chunk_source("a.c", "c", C_SOURCE)) == [
        ("struct", "Point", 3, 5),
        ("struct", "node", 7, 7),
        ("function", "make_name", 9, 13),
        ("function", "signal", 15, 15),
        ("function", "debug_level", 18, 18),
    ]


CPP_SOURCE = _src(
    """
    #include <vector>

    namespace geo {
    class Shape {
     public:
      virtual ~Shape() {}
      double area() const {
        return 0;
      }
    };

    template <typename T>
    T largest(T a, T b) { return a > b ? a : b; }
    }  // namespace geo

    double geo::Shape::perimeter() const { return 1; }

    namespace {
    void hidden() {}
    }
    """
)


def test_cpp_namespaces_classes_and_out_of_line_methods() -> None:
    chunks = chunk_source("shape.cpp", "cpp", CPP_SOURCE, small_class_lines=3)
    assert chunk_defs(chunks) == [
        ("class", "geo.Shape", 4, 5),
        ("method", "geo.Shape.~Shape", 6, 6),
        ("method", "geo.Shape.area", 7, 9),
        ("function", "geo.largest", 12, 13),
        ("method", "geo.Shape.perimeter", 16, 16),
        ("function", "hidden", 19, 19),
    ]


JS_SOURCE = _src(
    """
    import React from "react";

    const add = (a, b) => a + b;

    export const multiply = function (a, b) {
      return a * b;
    };

    export default function () {}

    function* ids() { yield 1; }

    class Counter {
      increment = () => this.count++;
      reset() { this.count = 0; }
    }

    Counter.prototype.legacy = function () {};
    const limit = 10;
    """
)


def test_javascript_functions_classes_and_assignments() -> None:
    chunks = chunk_source("c.js", "javascript", JS_SOURCE, small_class_lines=2)
    assert chunk_defs(chunks) == [
        ("function", "add", 3, 3),
        ("function", "multiply", 5, 7),
        ("function", "default", 9, 9),
        ("function", "ids", 11, 11),
        ("class", "Counter", 13, 13),
        ("method", "Counter.increment", 14, 14),
        ("method", "Counter.reset", 15, 15),
        ("method", "Counter.prototype.legacy", 18, 18),
    ]


TS_SOURCE = _src(
    """
    export interface Props {
      name: string;
    }

    type Id = string;

    export enum Color {
      Red,
      Green,
    }

    abstract class Repo {
      abstract find(id: Id): Props;
    }

    namespace Util {
      export function clamp(x: number): number { return x; }
    }
    """
)


def test_typescript_interfaces_enums_and_namespaces() -> None:
    assert chunk_defs(chunk_source("t.ts", "typescript", TS_SOURCE)) == [
        ("interface", "Props", 1, 3),
        ("type", "Id", 5, 5),
        ("enum", "Color", 7, 10),
        ("class", "Repo", 12, 14),
        ("function", "Util.clamp", 17, 17),
    ]


def test_tsx_components() -> None:
    text = _src(
        """
        import React from "react";

        export function Greeting({ name }: { name: string }) {
          return <h1>Hello {name}</h1>;
        }

        export const Button = () => <button onClick={() => 1}>Go</button>;
        """
    )
    assert chunk_defs(chunk_source("g.tsx", "tsx", text)) == [
        ("function", "Greeting", 3, 5),
        ("function", "Button", 7, 7),
    ]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("python", PYTHON_CLASS),
        ("go", GO_SOURCE),
        ("rust", RUST_SOURCE),
        ("java", JAVA_SOURCE),
        ("c", C_SOURCE),
        ("cpp", CPP_SOURCE),
        ("javascript", JS_SOURCE),
        ("typescript", TS_SOURCE),
    ],
)
def test_invariants_hold_for_every_grammar(language: str, text: str) -> None:
    check_chunk_invariants(chunk_source("f", language, text, small_class_lines=2), text)


def test_unknown_language_gets_overlapping_windows_over_every_line() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 201)) + "\n"
    chunks = chunk_source("notes.pl", "perl", text)
    assert chunk_windows(chunks) == [(1, 60), (46, 105), (91, 150), (136, 195), (181, 200)]
    assert all(c.kind == "window" and c.symbol == "" for c in chunks)
    covered = {line for c in chunks for line in range(c.start_line, c.end_line + 1)}
    assert covered == set(range(1, 201))
    check_chunk_invariants(chunks, text)


def test_short_file_without_definitions_is_still_one_window() -> None:
    assert chunk_windows(chunk_source("x.py", "python", "import os\n")) == [(1, 1)]
    assert chunk_windows(chunk_source("x.lua", "lua", "\n\nprint(1)\n\n")) == [(3, 3)]


def test_oversized_definition_is_split_into_windows_with_its_symbol() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(199))
    text = "def big():\n" + body
    chunks = chunk_source("b.py", "python", text)
    assert chunk_defs(chunks) == [
        ("function", "big", 1, 60),
        ("function", "big", 46, 105),
        ("function", "big", 91, 150),
        ("function", "big", 136, 195),
        ("function", "big", 181, 200),
    ]
    check_chunk_invariants(chunks, text)


def test_gaps_between_definitions_become_windows_unless_tiny() -> None:
    text = _src(
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
    chunks = chunk_source("m.py", "python", text)
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
    assert ("function", "g", NESTED + 1, NESTED + 1) in chunk_defs(chunk_source("d.c", "c", text))
    text = "namespace a {\n" * 50 + "int h() { return 0; }\n" + "}\n" * 50
    assert chunk_defs(chunk_source("d.cpp", "cpp", text)) == [("function", "a." * 50 + "h", 51, 51)]


def test_minified_single_line_file_is_one_capped_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    from codequest.chunking import chunker

    parsed: list[str] = []
    monkeypatch.setattr(chunker, "parser", parsed.append)  # a parse would fail here
    text = "var a=function(){return 1};" * 200_000  # about 5 MB on one line
    chunks = chunk_source("app.min.js", "javascript", text)
    assert parsed == []  # never parsed: one capped window is all it costs
    assert [(c.kind, c.start_line, c.end_line) for c in chunks] == [("window", 1, 1)]
    assert chunks[0].text == text[:MAX_CHUNK_CHARS]


def test_syntax_errors_keep_what_parsed() -> None:
    text = _src(
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
    chunks = chunk_source("e.py", "python", text)
    assert chunk_defs(chunks) == [
        ("function", "good", 1, 2),
        ("function", "broken", 8, 10),
        ("function", "also_good", 12, 13),
    ]
    assert chunk_windows(chunks) == [(4, 6)]  # the garbage between them is still searchable
    check_chunk_invariants(chunks, text)

    js = "function a() {\n  return 1;\n}\nfunction b( {\n x\n}\nfunction c() { return 2; }\n"
    js_chunks = chunk_source("e.js", "javascript", js)
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
    first = chunk_source("a/x.py", "python", PYTHON_CLASS, small_class_lines=5)
    second = chunk_source("b/y.py", "python", PYTHON_CLASS, small_class_lines=5)
    assert [c.content_hash for c in first] == [c.content_hash for c in second]
    assert first == chunk_source("a/x.py", "python", PYTHON_CLASS, small_class_lines=5)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_empty_files_give_no_chunks(text: str) -> None:
    assert chunk_source("e.py", "python", text) == []
    assert chunk_source("e.txt", "text", text) == []


def test_parallel_chunking_matches_sequential() -> None:
    jobs = [("python", PYTHON_CLASS), ("go", GO_SOURCE), ("cpp", CPP_SOURCE)] * 8
    expected = [chunk_source("f", lang, text) for lang, text in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: chunk_source("f", *job), jobs))
    assert results == expected


@pytest.mark.parametrize(
    "options",
    [{"window_lines": 0}, {"window_overlap": 60}, {"window_overlap": -1}, {"max_chunk_lines": 0}],
)
def test_invalid_options_are_rejected_with_their_values(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=str(next(iter(options.values())))):
        chunk_source("f.py", "python", "x = 1\n", **options)


def test_supported_languages_match_the_language_table() -> None:
    assert supported_languages() == TREE_SITTER_LANGUAGES


def test_decorators_and_templates_start_their_definitions() -> None:
    ts = _src(
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
    assert chunk_defs(chunk_source("w.ts", "typescript", ts, small_class_lines=3)) == [
        ("class", "Widget", 1, 5),
        ("method", "Widget.onClick", 6, 7),
    ]
    cpp = _src(
        """
        template <class T>
        class Vec final : public Base {
         public:
          void push(T v) { data.push_back(v); }
        };
        template <> void Vec<int>::push(int v) {}
        """
    )
    assert chunk_defs(chunk_source("v.hpp", "cpp", cpp, small_class_lines=2)) == [
        ("class", "Vec", 1, 3),
        ("method", "Vec.push", 4, 4),
        ("method", "Vec.push", 6, 6),
    ]


def test_one_long_line_does_not_hide_the_definitions_around_it() -> None:
    blob = "DATA = '" + "A" * 30_000 + "'\n"
    funcs = "".join(f"def func_{i}():\n    return {i}\n\n\n" for i in range(12))
    chunks = chunk_source("gen.py", "python", blob + funcs)
    symbols = {c.symbol for c in chunks}
    assert {f"func_{i}" for i in range(12)} <= symbols
    assert all(len(c.text) <= 20_000 for c in chunks)
