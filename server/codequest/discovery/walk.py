"""The walk: which files of a workspace get indexed, streamed in a deterministic order.

:func:`discover` yields :class:`~codequest.types.SourceFile` records, entries sorted by
name in each directory, a directory's files before its subdirectories. It never reads file
contents, so re-indexing an unchanged tree costs one ``stat`` per file.

Left out: what the ignore rules say (:mod:`.ignore`; ignored directories are pruned
without being read, so a file under one cannot be re-included, and ignored paths are not
counted as skips); :data:`~.ignore.DEFAULT_IGNORED_DIRS`, ``*.egg-info``, virtual
environments (a directory holding ``pyvenv.cfg`` or ``conda-meta``) and the configured
cache directory, though a negated pattern (``!build/``) re-includes a default-skipped
directory other than VCS metadata. Files are skipped with a counted reason (the keys of
``skipped``, :data:`SKIP_REASONS`): ``unsupported`` (no known language), ``generated``
(lock files, minified bundles, source maps), ``too_large``, ``unreadable`` (permission or
IO errors, FIFOs, dangling symlinks, names that are not UTF-8), ``vanished``,
``symlink_loop``, ``symlink_outside`` and ``limit``; ``binary`` is counted when a file is
read (:func:`~.source.read_source`).

Symlinks: symlinked directories are not followed unless ``config.follow_symlinks``; a link
to the directory that contains it or to an ancestor counts as ``symlink_loop`` either way,
and one that resolves outside the root counts as ``symlink_outside`` unless followed. When
following, directories are identified by ``(st_dev, st_ino)``: a directory already walked
is not walked again, and followed links are walked after the real tree, so a directory
reachable both ways keeps its real path. Symlinked *files* that resolve inside the root are
indexed under the link's own path, the path the user sees and opens; the duplicate chunks
cost little because the indexer reuses embeddings by content hash.

``limit``: once ``config.max_files`` files have been yielded, the next eligible file counts
``limit`` once and the walk stops. Counting the rest would mean walking the whole tree the
limit exists to protect us from, so ``skipped["limit"] == 1`` means "there were more".
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from codequest.config import Config
from codequest.discovery.ignore import (
    DEFAULT_IGNORED_DIRS,
    ENV_MARKERS,
    IGNORE_FILE_NAMES,
    VCS_DIRS,
    Rules,
    Skipped,
    compile_rules,
    decide,
    read_rules,
)
from codequest.discovery.languages import detect_language
from codequest.discovery.paths import skipped_by_name
from codequest.types import SourceFile

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


_DirKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A directory waiting on the explicit stack (no recursion, so depth is unbounded)."""

    abs_path: str
    rel: str
    # Per-directory rules of this directory's ancestors, deepest first.
    chain: tuple[Rules, ...]
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
        exclude = compile_rules(config.exclude)
        self.exclude = Rules("", exclude) if exclude is not None else None
        self.info_exclude = read_rules(os.path.join(root, ".git", "info", "exclude"), "", skipped)

    def _cache_dir_key(self) -> _DirKey | None:
        """Identify the configured cache directory (relative paths are root-relative)."""
        if not self.config.cache_dir:
            return None
        try:
            st = os.stat(os.path.join(self.root, os.path.expanduser(self.config.cache_dir)))
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _rules(self, chain: tuple[Rules, ...]) -> Iterator[Rules]:
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
        if pending.rel and names & ENV_MARKERS:
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
            elif decide(self._rules(chain), rel, False) is not True:
                found = self._source_file(entry, rel, is_link)
                if found is not None:
                    yield found

    def _extend_chain(self, parent: _Pending, names: set[str]) -> tuple[Rules, ...]:
        """Add this directory's ignore files (the deeper and later file wins)."""
        chain = parent.chain
        for name in IGNORE_FILE_NAMES:
            if name in names:
                rules = read_rules(os.path.join(parent.abs_path, name), parent.rel, self.skipped)
                if rules is not None:
                    chain = (rules, *chain)
        return chain

    def _keep_dir(self, name: str, rel: str, chain: tuple[Rules, ...]) -> bool:
        """Default-skipped names unless a negation re-includes them; then ignore rules."""
        if name in VCS_DIRS:
            return False
        verdict = decide(self._rules(chain), rel, True)
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
        if skipped_by_name(name):
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
