"""Chunking the first nine languages: definitions per grammar, their symbols and lines.

Windows, limits and hashes: test_chunking_windows; broken and nested input:
test_chunking_hard_inputs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from codequest.chunking import definition_chunks
from helpers import PYTHON_CLASS, check_chunk_invariants, chunk_defs, chunk_windows, dedented


def test_python_large_class_is_split_into_header_and_methods() -> None:
    chunks = definition_chunks("svc.py", "python", PYTHON_CLASS, small_class_lines=5)
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
    chunks = definition_chunks("svc.py", "python", PYTHON_CLASS)
    assert chunk_defs(chunks) == [("class", "Service", 5, 22)]


def test_python_class_over_default_threshold_is_split() -> None:
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(15))
    text = "class Big:\n    x = 1\n\n" + methods
    defs = chunk_defs(definition_chunks("big.py", "python", text))
    assert defs[0] == ("class", "Big", 1, 3)
    assert defs[1] == ("method", "Big.m0", 4, 5)
    assert len(defs) == 16


def test_python_module_level_conditionals_and_comments() -> None:
    text = dedented(
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
    chunks = definition_chunks("m.py", "python", text)
    assert chunk_defs(chunks) == [("function", "dumps", 4, 5), ("function", "add", 7, 10)]
    check_chunk_invariants(chunks, text)


def test_comment_above_the_first_member_goes_with_the_member() -> None:
    # The grammar keeps this comment in the class, outside the block that holds the method.
    text = dedented(
        """
        class TestBasic:

            # simple http: GET
            def test_get(self, env):
                return env
        """
    )
    assert chunk_defs(definition_chunks("t.py", "python", text, small_class_lines=2)) == [
        ("class", "TestBasic", 1, 2),
        ("method", "TestBasic.test_get", 3, 5),
    ]


GO_SOURCE = dedented(
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
    assert chunk_defs(definition_chunks("s.go", "go", GO_SOURCE)) == [
        ("struct", "Server", 3, 6),
        ("method", "Server.Start", 8, 11),
        ("method", "Cache.Get", 13, 13),
        ("function", "main", 15, 15),
        ("interface", "Handler", 18, 18),
        ("type", "ID", 19, 19),
    ]


RUST_SOURCE = dedented(
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
    chunks = definition_chunks("p.rs", "rust", RUST_SOURCE, small_class_lines=3)
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
    assert ("trait", "Shape", 21, 26) in chunk_defs(definition_chunks("p.rs", "rust", RUST_SOURCE))


JAVA_SOURCE = dedented(
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
    chunks = definition_chunks("Account.java", "java", JAVA_SOURCE, small_class_lines=5)
    assert chunk_defs(chunks) == [
        ("class", "Account", 5, 8),
        ("method", "Account.Account", 9, 12),
        ("method", "Account.toString", 14, 17),
        ("enum", "Account.State", 19, 19),
    ]


C_SOURCE = dedented(
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
    assert chunk_defs(definition_chunks("a.c", "c", C_SOURCE)) == [
        ("struct", "Point", 3, 5),
        ("struct", "node", 7, 7),
        ("function", "make_name", 9, 13),
        ("function", "signal", 15, 15),
        ("function", "debug_level", 18, 18),
    ]


CPP_SOURCE = dedented(
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
    chunks = definition_chunks("shape.cpp", "cpp", CPP_SOURCE, small_class_lines=3)
    assert chunk_defs(chunks) == [
        ("class", "geo.Shape", 4, 5),
        ("method", "geo.Shape.~Shape", 6, 6),
        ("method", "geo.Shape.area", 7, 9),
        ("function", "geo.largest", 12, 13),
        ("method", "geo.Shape.perimeter", 16, 16),
        ("function", "hidden", 19, 19),
    ]


JS_SOURCE = dedented(
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
    chunks = definition_chunks("c.js", "javascript", JS_SOURCE, small_class_lines=2)
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


TS_SOURCE = dedented(
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
    assert chunk_defs(definition_chunks("t.ts", "typescript", TS_SOURCE)) == [
        ("interface", "Props", 1, 3),
        ("type", "Id", 5, 5),
        ("enum", "Color", 7, 10),
        ("class", "Repo", 12, 14),
        ("function", "Util.clamp", 17, 17),
    ]


def test_tsx_components() -> None:
    text = dedented(
        """
        import React from "react";

        export function Greeting({ name }: { name: string }) {
          return <h1>Hello {name}</h1>;
        }

        export const Button = () => <button onClick={() => 1}>Go</button>;
        """
    )
    assert chunk_defs(definition_chunks("g.tsx", "tsx", text)) == [
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
    check_chunk_invariants(definition_chunks("f", language, text, small_class_lines=2), text)


def test_parallel_chunking_matches_sequential() -> None:
    jobs = [("python", PYTHON_CLASS), ("go", GO_SOURCE), ("cpp", CPP_SOURCE)] * 8
    expected = [definition_chunks("f", lang, text) for lang, text in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: definition_chunks("f", *job), jobs))
    assert results == expected
