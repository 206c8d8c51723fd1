"""Workspace file discovery: which files get indexed, and reading them safely.

:func:`discover` walks a workspace and yields :class:`SourceFile` records, streaming, in a
deterministic order (entries sorted by name in each directory; a directory's files come
before its subdirectories). It never reads file contents, so re-indexing an unchanged
tree costs one ``stat`` per file; :func:`read_source` reads and decodes one file later.

What is left out, and why:

- Ignore rules, in gitignore syntax (evaluated with ``pathspec``), highest precedence
  first: ``config.exclude`` (relative to the root), then the ``.codequestignore`` and
  ``.gitignore`` of the deepest directory up to the root (each relative to its own
  directory), then ``.git/info/exclude``. Within one source the last matching pattern
  wins, and the first source with a match decides, as in git. Ignored directories are
  pruned without being read, so (as in git) a file under an ignored directory cannot be
  re-included. Ignored paths are not counted as skips.
- :data:`DEFAULT_IGNORED_DIRS` (VCS metadata, dependency folders, caches, build outputs,
  editor state), ``*.egg-info``, virtual environments (any directory holding
  ``pyvenv.cfg`` or ``conda-meta``, whatever its name) and the configured cache directory.
  A negated ignore pattern (``!build/``) re-includes a default-skipped directory, except
  VCS metadata. ``.vscode`` and ``.idea`` are skipped: they hold editor state
  (``settings.json``, ``launch.json``), not project source, and their JSON would otherwise
  surface in code search.
- Files are skipped with a counted reason (the keys of ``skipped``): ``unsupported``
  (:func:`detect_language` does not know the name), ``generated`` (lock files, minified
  bundles, source maps), ``too_large``, ``unreadable`` (permission or IO errors, special
  files such as FIFOs, dangling symlinks, names that are not valid UTF-8), ``vanished``,
  ``symlink_loop``, ``symlink_outside`` and ``limit``. ``binary`` is counted by
  :func:`read_source`, because detecting it needs the file's bytes.

Symlinks: symlinked directories are not followed unless ``config.follow_symlinks``; a link
to the directory that contains it or to one of its ancestors counts as ``symlink_loop``
either way, and one that resolves outside the root counts as ``symlink_outside`` unless
followed. When following, directories are identified by ``(st_dev, st_ino)``: a directory
already walked is not walked again, and followed links are walked after the real tree, so
a directory reachable both ways keeps its real path. Symlinked *files* that resolve inside
the root are indexed under the link's own path: that is the path the user sees and opens,
and the duplicate chunks cost little because the indexer reuses embeddings by content hash.

``limit``: once ``config.max_files`` files have been yielded, the next eligible file counts
``limit`` once and the walk stops. Counting the rest would mean walking the whole tree
the limit exists to protect us from, so ``skipped["limit"] == 1`` means "there were more".
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pathspec import GitIgnoreSpec

from .config import Config
from .languages import detect_language
from .types import SourceFile

__all__ = [
    "DEFAULT_IGNORED_DIRS",
    "IGNORE_FILE_NAMES",
    "SKIP_REASONS",
    "discover",
    "is_example_path",
    "is_test_path",
    "is_vendored_or_generated",
    "read_source",
]

SKIP_REASONS = (
    "binary",
    "too_large",
    "unreadable",
    "symlink_loop",
    "symlink_outside",
    "vanished",
    "unsupported",
    "generated",
    "limit",
)

# Version-control metadata: never indexed, not even when an ignore pattern negates it.
_VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})

DEFAULT_IGNORED_DIRS: frozenset[str] = _VCS_DIRS | frozenset(
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
_ENV_MARKERS = frozenset({"pyvenv.cfg", "conda-meta"})

# Generated files that discovery skips outright (counted as ``generated``).
_LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "Cargo.lock",
        "poetry.lock",
        "Pipfile.lock",
        "composer.lock",
        "Gemfile.lock",
        "go.sum",
        "uv.lock",
        "pdm.lock",
    }
)
_SKIP_SUFFIXES = (".min.js", ".min.mjs", ".min.css", ".map")

_SNIFF_BYTES = 8192
# read_source's size limit when the caller does not pass one (see its docstring).
_DEFAULT_MAX_BYTES = Config().max_file_bytes

Skipped = Counter[str]


# -- path classification ----------------------------------------------------------------

_TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "__tests__",
        "__test__",
        "spec",
        "specs",
        "testdata",
        "test_data",
        "e2e",
        "__mocks__",
        "__fixtures__",
        "androidtest",
        "unittests",
        "unit_tests",
        "integration_tests",
        "integrationtests",
    }
)
_TEST_STEM_SUFFIXES = ("_test", "_tests", "_spec", "_unittest", "_integration_test")
_TEST_STEMS = frozenset({"test", "tests", "conftest"})
# JS/TS style: ``foo.test.ts``, ``foo.spec.jsx``, ``foo.e2e-spec.ts``, ``foo.cy.ts``.
_TEST_MIDDLES = (".test", ".spec", ".e2e-spec", ".e2e", ".cy")


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _split_name(name: str) -> tuple[str, str]:
    """``a.test.ts`` -> (``a.test``, ``.ts``); a leading dot is part of the stem."""
    dot = name.rfind(".")
    return (name, "") if dot <= 0 else (name[:dot], name[dot:])


def _is_test_name(name: str) -> bool:
    """Test-file naming conventions across languages, from the name alone."""
    stem, _ = _split_name(name)
    lower = stem.lower()
    if lower in _TEST_STEMS or lower.startswith("test_") or lower.endswith(_TEST_STEM_SUFFIXES):
        return True
    if lower.endswith(_TEST_MIDDLES):
        return True
    # JUnit/xUnit/Spock/Swift style: FooTest, FooTests, FooTestCase, FooSpec, FooSuite,
    # FooIT (integration), TestFoo; case-sensitive so ``Contest`` and ``AUDIT`` stay code.
    for suffix in ("Test", "Tests", "TestCase", "Spec", "Suite", "IT"):
        head = stem[: -len(suffix)]
        if stem.endswith(suffix) and head and (head[-1].islower() or head[-1].isdigit()):
            return True
    return stem.startswith("Test") and len(stem) > 4 and stem[4].isupper()


def is_test_path(path: str) -> bool:
    """Whether a relative POSIX path is test code (so searches can leave tests out).

    A directory component such as ``tests/``, ``__tests__/``, ``spec/``, ``testdata/`` (this
    covers ``src/test/java``), or a test-style file name: ``test_*.py``, ``*_test.go``,
    ``*.spec.ts``, ``FooTest.java``, ``*_spec.rb``, ``conftest.py`` and the like.
    """
    parts = _parts(path)
    if not parts:
        return False
    if any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return True
    return _is_test_name(parts[-1])


_VENDOR_DIRS = frozenset(
    {
        "vendor",
        "vendors",
        "third_party",
        "third-party",
        "thirdparty",
        "3rdparty",
        "node_modules",
        "bower_components",
        "site-packages",
        "pods",
        "dist",
        "generated",
        "__generated__",
        "_generated",
        "autogen",
        "gen-src",
    }
)
_GENERATED_SUFFIXES = (
    ".min.js",
    ".min.mjs",
    ".min.css",
    ".map",
    "-min.js",
    ".bundle.js",
    "_pb2.py",
    "_pb2.pyi",
    "_pb2_grpc.py",
    ".pb.go",
    ".pb.gw.go",
    ".pb.cc",
    ".pb.h",
    "_pb.js",
    "_pb.d.ts",
    "_grpc_pb.js",
    ".pb.ts",
    ".g.dart",
    ".freezed.dart",
    ".designer.cs",
    ".g.cs",
    "_generated.go",
    ".gen.go",
)


def is_vendored_or_generated(path: str) -> bool:
    """Whether a relative POSIX path is third-party or machine-written code.

    Such files are indexed when present (unless ignored) but are worth ranking lower:
    ``vendor/``, ``third_party/``, ``node_modules/``, ``dist/``, ``generated/`` directories,
    minified bundles, protobuf and other codegen outputs, lock files.
    """
    parts = _parts(path)
    if not parts:
        return False
    if any(p.lower() in _VENDOR_DIRS for p in parts[:-1]):
        return True
    name = parts[-1]
    lower = name.lower()
    return (
        name in _LOCK_FILES
        or lower.endswith(_GENERATED_SUFFIXES)
        or ".generated." in lower
        or lower.startswith("zz_generated")
    )


_EXAMPLE_DIRS = frozenset(
    {"example", "examples", "_examples", "sample", "samples", "demo", "demos"}
)


def is_example_path(path: str) -> bool:
    """Whether a relative POSIX path lies in an examples/samples/demo directory."""
    return any(p.lower() in _EXAMPLE_DIRS for p in _parts(path)[:-1])


def _skipped_by_name(name: str) -> bool:
    """Generated files that are never worth indexing: lock files, minified code, maps."""
    return name in _LOCK_FILES or name.lower().endswith(_SKIP_SUFFIXES)


# -- ignore rules -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rules:
    """One source of gitignore patterns, anchored at ``base`` (relative POSIX, "" = root)."""

    base: str
    spec: GitIgnoreSpec

    def check(self, rel: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a negation; None: no pattern matched."""
        if self.base:
            rel = rel[len(self.base) + 1 :]
        return self.spec.check_file(rel + "/" if is_dir else rel).include


def _compile(lines: Iterable[str]) -> GitIgnoreSpec | None:
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


def _read_rules(path: str, base: str, skipped: Skipped) -> _Rules | None:
    """Load one ignore file; unreadable ones are counted and otherwise ignored."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        skipped["unreadable"] += 1
        return None
    spec = _compile(text.splitlines())
    return _Rules(base, spec) if spec is not None else None


def _decide(rules: Iterable[_Rules], rel: str, is_dir: bool) -> bool | None:
    """The first source (highest precedence first) with a matching pattern decides."""
    for r in rules:
        verdict = r.check(rel, is_dir)
        if verdict is not None:
            return verdict
    return None


# -- the walk ---------------------------------------------------------------------------

_DirKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A directory waiting on the explicit stack (no recursion, so depth is unbounded)."""

    abs_path: str
    rel: str
    # Per-directory rules of this directory's ancestors, deepest first.
    chain: tuple[_Rules, ...]
    # (st_dev, st_ino) of the directories above it, to recognise loops.
    ancestors: tuple[_DirKey, ...]


def discover(
    root: str | os.PathLike[str], config: Config, skipped: Skipped | None = None
) -> Iterator[SourceFile]:
    """Yield the files of ``root`` worth indexing, counting what is skipped and why.

    Raises ``NotADirectoryError`` right away (not on first iteration) when ``root`` is not
    a directory; every problem met during the walk is counted in ``skipped`` instead.
    """
    root_abs = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root_abs):
        raise NotADirectoryError(errno.ENOTDIR, "workspace root is not a directory", root_abs)
    walker = _Walker(root_abs, config, skipped if skipped is not None else Counter())
    return walker.walk()


class _Walker:
    """State of one discovery walk: global rules, visited directories, the file count."""

    def __init__(self, root: str, config: Config, skipped: Skipped) -> None:
        self.root = root
        self.root_real = os.path.realpath(root)
        self.config = config
        self.skipped = skipped
        self.count = 0
        self.visited: set[_DirKey] = set()
        # Followed directory links, walked after the real tree (see ``walk``).
        self.deferred: list[_Pending] = []
        self.cache_key = self._cache_dir_key()
        exclude = _compile(config.exclude)
        self.exclude = _Rules("", exclude) if exclude is not None else None
        self.info_exclude = _read_rules(os.path.join(root, ".git", "info", "exclude"), "", skipped)

    def _cache_dir_key(self) -> _DirKey | None:
        """Identify the configured cache directory (relative paths are root-relative)."""
        if not self.config.cache_dir:
            return None
        try:
            st = os.stat(os.path.join(self.root, os.path.expanduser(self.config.cache_dir)))
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _rules(self, chain: tuple[_Rules, ...]) -> Iterator[_Rules]:
        if self.exclude is not None:
            yield self.exclude
        yield from chain
        if self.info_exclude is not None:
            yield self.info_exclude

    def _inside(self, real: str) -> bool:
        prefix = self.root_real.rstrip(os.sep) + os.sep
        return real == self.root_real or real.startswith(prefix)

    # -- the loop -----------------------------------------------------------------------
    def walk(self) -> Iterator[SourceFile]:
        stack = [_Pending(self.root, "", (), ())]
        while stack or self.deferred:
            if not stack:  # real directories first, so they keep their own paths
                stack, self.deferred = self.deferred[::-1], []
            pending = stack.pop()
            key = self._enter(pending)
            if key is None:
                continue
            entries = self._scan(pending)
            if entries is None:
                continue
            subdirs: list[_Pending] = []
            for result in self._visit_entries(pending, key, entries, subdirs):
                if self.count >= self.config.max_files:
                    self.skipped["limit"] += 1
                    return
                self.count += 1
                yield result
            stack.extend(reversed(subdirs))

    def _enter(self, pending: _Pending) -> _DirKey | None:
        """Stat a directory about to be read; None means do not read it."""
        try:
            st = os.stat(pending.abs_path)
        except FileNotFoundError:
            self.skipped["vanished"] += 1
            return None
        except OSError as err:
            self._count_os_error(err)
            return None
        key = (st.st_dev, st.st_ino)
        if key in pending.ancestors:  # a bind mount of an ancestor, say
            self.skipped["symlink_loop"] += 1
            return None
        if key in self.visited or (pending.rel and key == self.cache_key):
            return None  # already walked through another link / our own index
        self.visited.add(key)
        return key

    def _scan(self, pending: _Pending) -> list[os.DirEntry[str]] | None:
        try:
            with os.scandir(pending.abs_path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            self.skipped["vanished"] += 1
            return None
        except OSError as err:
            self._count_os_error(err)
            return None
        names = {e.name for e in entries}
        if pending.rel and names & _ENV_MARKERS:
            return None  # a virtual environment: installed packages, not project source
        return entries

    def _count_os_error(self, err: OSError) -> None:
        self.skipped["symlink_loop" if err.errno == errno.ELOOP else "unreadable"] += 1

    def _visit_entries(
        self,
        parent: _Pending,
        key: _DirKey,
        entries: list[os.DirEntry[str]],
        subdirs: list[_Pending],
    ) -> Iterator[SourceFile]:
        """Yield this directory's files; append the subdirectories to walk to ``subdirs``."""
        chain = self._extend_chain(parent, {e.name for e in entries})
        ancestors = (*parent.ancestors, key)
        for entry in entries:
            if not _valid_name(entry.name):
                self.skipped["unreadable"] += 1
                continue
            rel = f"{parent.rel}/{entry.name}" if parent.rel else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows a link; False when dangling
            except OSError:  # ELOOP from a link chain that never ends: treat as a file
                is_link, is_dir = True, False
            if is_dir:
                if not self._keep_dir(entry.name, rel, chain):
                    continue
                if not is_link:
                    subdirs.append(_Pending(entry.path, rel, chain, ancestors))
                elif self._follow_dir_link(entry.path, ancestors):
                    self.deferred.append(_Pending(entry.path, rel, chain, ancestors))
            elif _decide(self._rules(chain), rel, False) is not True:
                found = self._source_file(entry, rel, is_link)
                if found is not None:
                    yield found

    def _extend_chain(self, parent: _Pending, names: set[str]) -> tuple[_Rules, ...]:
        """Add this directory's ignore files (the deeper and later file wins)."""
        chain = parent.chain
        for name in IGNORE_FILE_NAMES:
            if name in names:
                rules = _read_rules(os.path.join(parent.abs_path, name), parent.rel, self.skipped)
                if rules is not None:
                    chain = (rules, *chain)
        return chain

    def _keep_dir(self, name: str, rel: str, chain: tuple[_Rules, ...]) -> bool:
        """Default-skipped names unless a negation re-includes them; then ignore rules."""
        if name in _VCS_DIRS:
            return False
        verdict = _decide(self._rules(chain), rel, True)
        if name in DEFAULT_IGNORED_DIRS or name.endswith(".egg-info"):
            return verdict is False
        return verdict is not True

    def _resolve_link(self, path: str) -> tuple[str, os.stat_result] | None:
        """A link's real path and target stat; loops and dangling links are counted."""
        try:
            real = os.path.realpath(path, strict=True)
            return real, os.stat(real)
        except OSError as err:
            self._count_os_error(err)  # ELOOP -> symlink_loop, dangling -> unreadable
            return None

    def _follow_dir_link(self, path: str, ancestors: tuple[_DirKey, ...]) -> bool:
        """Whether to walk a symlinked directory; loops count even when not following."""
        resolved = self._resolve_link(path)
        if resolved is None:
            return False
        real, st = resolved
        if (st.st_dev, st.st_ino) in ancestors:
            self.skipped["symlink_loop"] += 1
            return False
        if self.config.follow_symlinks:
            return True
        if not self._inside(real):
            self.skipped["symlink_outside"] += 1
        # A link to a directory inside the root is not followed: its real path is walked.
        return False

    def _source_file(self, entry: os.DirEntry[str], rel: str, is_link: bool) -> SourceFile | None:
        """Check name, link target, type and size of one candidate (cheapest first)."""
        name = entry.name
        if _skipped_by_name(name):
            self.skipped["generated"] += 1
            return None
        language = detect_language(name)
        if language is None:
            self.skipped["unsupported"] += 1
            return None
        if is_link:
            resolved = self._resolve_link(entry.path)
            if resolved is None:
                return None
            real, st = resolved
            if not self.config.follow_symlinks and not self._inside(real):
                self.skipped["symlink_outside"] += 1
                return None
        else:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                self.skipped["vanished"] += 1
                return None
            except OSError as err:
                self._count_os_error(err)
                return None
        if not stat.S_ISREG(st.st_mode):  # FIFOs, sockets, devices: reading could block
            self.skipped["unreadable"] += 1
            return None
        if st.st_size > self.config.max_file_bytes:
            self.skipped["too_large"] += 1
            return None
        return SourceFile(rel, entry.path, language, st.st_size, st.st_mtime_ns)


def _valid_name(name: str) -> bool:
    """Names that are not UTF-8 (surrogate-escaped) could not be stored or sent as JSON."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- reading ------------------------------------------------------------------------------

# UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


def read_source(
    file: SourceFile, skipped: Skipped | None = None, *, max_bytes: int | None = None
) -> str | None:
    """Read and decode one discovered file; None (with a counted reason) if it cannot be.

    Never raises for IO problems: a file that disappeared counts ``vanished``, one that
    cannot be opened or read (or became a FIFO or directory) counts ``unreadable``, one
    with a NUL byte in its first 8 KiB counts ``binary``, and one that grew past the limit
    since discovery counts ``too_large``. Pass ``max_bytes=config.max_file_bytes``; without
    it the limit is the larger of the default limit and the size discovery saw.

    Text is UTF-8 with invalid bytes replaced by U+FFFD; a UTF-8 BOM is dropped, and files
    with a UTF-16/32 BOM are decoded as such. CRLF becomes LF, which keeps the number of
    lines; a lone CR is left alone, because turning it into LF would add a line.
    """
    counter = skipped if skipped is not None else Counter()
    limit = max_bytes if max_bytes is not None else max(_DEFAULT_MAX_BYTES, file.size)
    data = _read_bytes(file.abs_path, limit, counter)
    if data is None:
        return None
    text = _decode(data)
    if text is None:
        counter["binary"] += 1
        return None
    return text.replace("\r\n", "\n")


def _read_bytes(path: str, limit: int, skipped: Skipped) -> bytes | None:
    """At most ``limit`` bytes of a regular file, never blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        skipped["vanished"] += 1
        return None
    except OSError:
        skipped["unreadable"] += 1
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            skipped["unreadable"] += 1
            return None
        if st.st_size > limit:
            skipped["too_large"] += 1
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)  # one byte more tells us it grew past the limit
    except OSError:
        skipped["unreadable"] += 1
        return None
    finally:
        os.close(fd)
    if len(data) > limit:
        skipped["too_large"] += 1
        return None
    return data


def _decode(data: bytes) -> str | None:
    """Text from bytes, or None when the bytes look binary (a NUL without a UTF-16/32 BOM)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")
