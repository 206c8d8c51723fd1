"""Rule tables, one module per language (C and C++ share one, as do JavaScript and
TypeScript).

The chunker walks every grammar's tree the same way (:mod:`codequest.chunking.definitions`);
a module here only says which node types are definitions, how they are named, and what
belongs above them, and documents its language's conventions. The vocabulary is in
:mod:`.base`. The wheel that parses each language is named in
``codequest.discovery.languages.GRAMMAR_WHEELS``.
"""

from __future__ import annotations

from codequest.chunking.grammars.base import Grammar
from codequest.chunking.grammars.c import CPP, C
from codequest.chunking.grammars.csharp import CSHARP
from codequest.chunking.grammars.elixir import ELIXIR
from codequest.chunking.grammars.go import GO
from codequest.chunking.grammars.haskell import HASKELL
from codequest.chunking.grammars.java import JAVA
from codequest.chunking.grammars.javascript import JAVASCRIPT, TYPESCRIPT
from codequest.chunking.grammars.kotlin import KOTLIN
from codequest.chunking.grammars.lua import LUA
from codequest.chunking.grammars.php import PHP
from codequest.chunking.grammars.python import PYTHON
from codequest.chunking.grammars.ruby import RUBY
from codequest.chunking.grammars.rust import RUST
from codequest.chunking.grammars.scala import SCALA
from codequest.chunking.grammars.shell import SHELL
from codequest.chunking.grammars.swift import SWIFT
from codequest.chunking.grammars.zig import ZIG

GRAMMARS: dict[str, Grammar] = {
    "python": PYTHON,
    "javascript": JAVASCRIPT,
    "typescript": TYPESCRIPT,
    "tsx": TYPESCRIPT,
    "go": GO,
    "rust": RUST,
    "java": JAVA,
    "c": C,
    "cpp": CPP,
    "ruby": RUBY,
    "php": PHP,
    "csharp": CSHARP,
    "kotlin": KOTLIN,
    "scala": SCALA,
    "swift": SWIFT,
    "elixir": ELIXIR,
    "lua": LUA,
    "shell": SHELL,
    "haskell": HASKELL,
    "zig": ZIG,
}
