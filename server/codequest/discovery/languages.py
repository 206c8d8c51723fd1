"""Language detection from file names."""

from __future__ import annotations

import posixpath

# Languages with a tree-sitter grammar wheel get definition chunks (``codequest.chunking``
# holds a rule table for each); the rest get line windows.
# language -> (the wheel's module, its function returning the language pointer)
GRAMMAR_WHEELS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    # language_php parses HTML around `<?php` too; language_php_only would not.
    "php": ("tree_sitter_php", "language_php"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "scala": ("tree_sitter_scala", "language"),
    "swift": ("tree_sitter_swift", "language"),
    "elixir": ("tree_sitter_elixir", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "shell": ("tree_sitter_bash", "language"),
    "haskell": ("tree_sitter_haskell", "language"),
    "zig": ("tree_sitter_zig", "language"),
}
TREE_SITTER_LANGUAGES = frozenset(GRAMMAR_WHEELS)

_BY_EXTENSION: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
    ".ipp": "cpp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".gemspec": "ruby",
    ".ru": "ruby",
    ".php": "php",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".sc": "scala",
    ".sbt": "scala",
    ".lua": "lua",
    ".ex": "elixir",
    ".exs": "elixir",
    ".hs": "haskell",
    ".zig": "zig",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".bats": "shell",
    # Window-chunked languages: searchable, without definition boundaries.
    ".pl": "perl",
    ".pm": "perl",
    ".r": "r",
    ".jl": "julia",
    ".erl": "erlang",
    ".ml": "ocaml",
    ".mli": "ocaml",
    ".clj": "clojure",
    ".dart": "dart",
    ".nim": "nim",
    ".ps1": "powershell",
    ".sql": "sql",
    ".vue": "vue",
    ".svelte": "svelte",
    ".html": "html",
    ".css": "css",
    ".scss": "css",
    ".md": "markdown",
    ".rst": "rst",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".proto": "protobuf",
    ".tf": "terraform",
    ".gradle": "groovy",
    ".groovy": "groovy",
    ".m": "objc",
    ".mm": "objc",
    ".f90": "fortran",
    ".vim": "vim",
    ".txt": "text",
}
_BY_NAME: dict[str, str] = {
    "Makefile": "make",
    "Rakefile": "ruby",
    "Gemfile": "ruby",
    "Dockerfile": "dockerfile",
    "CMakeLists.txt": "cmake",
    "BUILD": "starlark",
    "WORKSPACE": "starlark",
}

ALL_LANGUAGES = frozenset(_BY_EXTENSION.values()) | frozenset(_BY_NAME.values())


def detect_language(path: str) -> str | None:
    """Return the language for a file name, or None when it is not source we index."""
    name = posixpath.basename(path)
    if name in _BY_NAME:
        return _BY_NAME[name]
    _, ext = posixpath.splitext(name)
    return _BY_EXTENSION.get(ext.lower())
