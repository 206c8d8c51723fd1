"""Ignore rules: which directories and files a walk leaves out before looking at them.

Gitignore syntax, evaluated with ``pathspec``. Sources, highest precedence first:
``config.exclude`` (relative to the root), then the ``.codequestignore`` and ``.gitignore``
of the deepest directory up to the root (each relative to its own directory), then
``.git/info/exclude``. Within one source the last matching pattern wins, and the first
source with a match decides, as in git.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pathspec import GitIgnoreSpec

Skipped = Counter[str]

# Version-control metadata: never indexed, not even when an ignore pattern negates it.
VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})

DEFAULT_IGNORED_DIRS: frozenset[str] = VCS_DIRS | frozenset(
    {
        # Dependencies.
        "node_modules",
        "bower_components",
        # Tool caches.
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".eggs",
        ".cache",
        ".gradle",
        ".dart_tool",
        ".terraform",
        ".direnv",
        ".parcel-cache",
        ".turbo",
        # Build outputs.
        "build",
        "dist",
        "target",
        "out",
        ".next",
        ".nuxt",
        ".svelte-kit",
        # Our own index, and editor state.
        ".codequest",
        ".idea",
        ".vscode",
    }
)

# Per-directory ignore files, in order of increasing precedence within a directory.
IGNORE_FILE_NAMES = (".gitignore", ".codequestignore")

# A directory holding one of these is a Python or conda environment, whatever its name.
ENV_MARKERS = frozenset({"pyvenv.cfg", "conda-meta"})


@dataclass(frozen=True, slots=True)
class Rules:
    """One source of gitignore patterns, anchored at ``base`` (relative POSIX, "" = root)."""

    base: str
    spec: GitIgnoreSpec

    def check(self, rel: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a negation; None: no pattern matched."""
        if self.base:
            rel = rel[len(self.base) + 1 :]
        return self.spec.check_file(rel + "/" if is_dir else rel).include


def compile_rules(lines: Iterable[str]) -> GitIgnoreSpec | None:
    """Build a spec, dropping lines pathspec rejects (git ignores bad lines too)."""
    lines = [line for line in lines if line.strip() and not line.startswith("#")]
    if not lines:
        return None
    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError:
        good = []
        for line in lines:
            try:
                GitIgnoreSpec.from_lines([line])
            except ValueError:
                continue
            good.append(line)
        return GitIgnoreSpec.from_lines(good) if good else None


def read_rules(path: str, base: str, skipped: Skipped) -> Rules | None:
    """Load one ignore file; unreadable ones are counted and otherwise ignored."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        skipped["unreadable"] += 1
        return None
    spec = compile_rules(text.splitlines())
    return Rules(base, spec) if spec is not None else None


def decide(rules: Iterable[Rules], rel: str, is_dir: bool) -> bool | None:
    """The first source (highest precedence first) with a matching pattern decides."""
    for r in rules:
        verdict = r.check(rel, is_dir)
        if verdict is not None:
            return verdict
    return None
