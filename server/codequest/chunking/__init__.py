"""Split a source file into chunks: definitions from tree-sitter, line windows for the rest.

``chunk_source`` parses files in the grammar languages (``supported_languages()``: those
with a wheel in ``discovery.languages.GRAMMAR_WHEELS``) and emits one chunk per function,
method, class and type-like definition, with qualified symbols. Code between definitions
(imports, module-level statements, scripts) becomes overlapping line windows, and so does
every file in a language without a grammar.

* :mod:`.chunker`: ``chunk_source``, the entry point;
* :mod:`.definitions`: the walk that finds definitions in a tree, shared by every language;
* :mod:`.windows`: chunks from row ranges, and line windows;
* :mod:`.parsers`: tree-sitter parsers, one per thread and language;
* :mod:`.grammars`: every language's rule table, one module each, which also documents
  that language's conventions.

Conventions:

- Symbols are qualified with ``.`` in every language: ``Class.method``,
  ``Outer.Inner.method``, ``Receiver.Method`` (Go, pointer stripped), ``Type.method``
  (Rust ``impl Type`` and ``impl Trait for Type``, Swift and Scala extensions, Kotlin
  extension functions). Named scopes that are not types count too: a C++, C# or PHP
  namespace, a Rust ``mod`` and a TypeScript ``namespace`` prefix their members
  (``ns.Widget.draw``); an out-of-line C++ definition ``ns::Widget::draw`` gives the same
  symbol. Packages (Java, Kotlin, Scala) do not. Template arguments are dropped. Anonymous
  scopes add nothing.
- Lines are the source split on ``"\\n"`` only, the way tree-sitter counts rows; a chunk's
  ``text`` is its lines joined with ``"\\n"``, cut at ``MAX_CHUNK_CHARS`` characters (the
  line range is kept), so a minified file cannot make chunks of unbounded size.
- A definition starts at its first decorator, annotation or ``export``/``template`` prefix
  and takes along the comments (and Rust attributes) directly above it, so doc comments are
  searched with the code they describe.
- Classes of at most ``small_class_lines`` lines are one chunk. Larger ones give a class
  chunk from the header to the line before the first member, plus one chunk per member.
- Tests written as calls (``it "parses flags" do``, ``test("x") {}``, bats ``@test``) are
  functions named by their description; ``describe`` blocks name a scope around them.
- In Haskell and Elixir, consecutive definitions of one name (a signature and its
  equations, a function's clauses) are one chunk.
- Definitions longer than ``max_chunk_lines`` are cut into overlapping windows that keep
  the definition's kind and symbol.
"""

from __future__ import annotations

from codequest.chunking.chunker import definition_chunks
from codequest.chunking.definitions import MAX_NESTING
from codequest.chunking.parsers import supported_languages
from codequest.chunking.sized import CHUNK_CHARS, chunk_source
from codequest.chunking.windows import MAX_CHUNK_CHARS

__all__ = [
    "CHUNK_CHARS",
    "MAX_CHUNK_CHARS",
    "MAX_NESTING",
    "chunk_source",
    "definition_chunks",
    "supported_languages",
]
