"""Rule tables of the languages beyond the first nine, one module per language.

``codequest.chunking`` walks every grammar's tree the same way; a module here only says
which node types are definitions, how they are named, and what belongs above them. The
wheel that parses each language is named in ``codequest.discovery.languages.GRAMMAR_WHEELS``.
"""

from __future__ import annotations

from .base import Grammar
from .csharp import CSHARP
from .elixir import ELIXIR
from .haskell import HASKELL
from .kotlin import KOTLIN
from .lua import LUA
from .php import PHP
from .ruby import RUBY
from .scala import SCALA
from .shell import SHELL
from .swift import SWIFT
from .zig import ZIG

GRAMMARS: dict[str, Grammar] = {
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
