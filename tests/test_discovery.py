"""Workspace discovery: ignore rules, default skips, order and limits, odd names, symlinks,
unreadable and vanishing files. Reading and path classification: test_reading_and_paths."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from codequest.config import Config
from codequest.discovery import (
    DEFAULT_IGNORED_DIRS,
    discover,
    read_source,
    walk,
)
from helpers import write_tree


def make_tree(root: Path, tree: Mapping[str, str | bytes]) -> None:
    """Create files from ``{"relative/path": content}``, as written (no dedent)."""
    write_tree(root, tree, dedent=False)


def paths(
    root: Path,
    config: Config | None = None,
    skipped: Counter[str] | None = None,
) -> list[str]:
    return [f.path for f in discover(root, config or Config(), skipped)]


# -- ignore rules -----------------------------------------------------------------------


def test_nested_gitignore_anchors_to_its_directory_and_negation_reincludes(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            ".gitignore": "*.txt\ncache*/\nlogs/\n!logs/keep.py\n",
            "notes.txt": "x",
            "main.py": "x",
            "cache1/a.py": "x",  # dir-only pattern matches the directory...
            "cache2.py": "x",  # ...but not a file with the same prefix
            "logs/keep.py": "x",  # under an ignored dir: cannot be re-included (git)
            "sub/.gitignore": "!keep.txt\n/local.py\n",
            "sub/keep.txt": "x",
            "sub/drop.txt": "x",
            "sub/local.py": "x",
            "sub/deeper/local.py": "x",  # "/local.py" is anchored to sub/, not below
            "other/keep.txt": "x",  # the negation in sub/ does not apply here
        },
    )
    assert paths(tmp_path) == [
        "cache2.py",
        "main.py",
        "sub/keep.txt",
        "sub/deeper/local.py",
    ]


def test_codequestignore_overrides_gitignore_in_the_same_directory(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            ".gitignore": "*.json\n",
            ".codequestignore": "!config.json\n*.md\n",
            "config.json": "{}",
            "other.json": "{}",
            "README.md": "# r",
            "a.py": "x",
        },
    )
    assert paths(tmp_path) == ["a.py", "config.json"]


def test_config_exclude_is_root_relative_and_wins(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "docs/guide.py": "x",
            "src/docs/api.py": "x",
            "src/q.sql": "x",
            "src/.gitignore": "!q.sql\n",
            "src/ok.py": "x",
        },
    )
    config = Config(exclude=("/docs/", "*.sql"))
    assert paths(tmp_path, config) == ["src/ok.py", "src/docs/api.py"]


def test_git_info_exclude_is_honoured_below_gitignore(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            ".git/info/exclude": "*.py\n",
            ".gitignore": "!wanted.py\n",
            "wanted.py": "x",
            "local.py": "x",
            "a.go": "x",
        },
    )
    assert paths(tmp_path) == ["a.go", "wanted.py"]


def test_bad_ignore_lines_are_dropped_not_fatal(tmp_path: Path):
    make_tree(tmp_path, {".gitignore": "!\n*.txt\nfoo\\\n", "a.txt": "x", "b.py": "x"})
    assert paths(tmp_path) == ["b.py"]


# -- default skips ----------------------------------------------------------------------


def test_default_ignored_dirs_and_cache_dir_are_pruned(tmp_path: Path):
    skipped_dirs = [
        "node_modules",
        "__pycache__",
        "build",
        ".git",
        ".vscode",
        ".codequest",
        "target",
        "pkg.egg-info",
        "myindex",
    ]
    make_tree(tmp_path, {f"{d}/x.py": "x" for d in skipped_dirs} | {"src/main.py": "x"})
    assert {"node_modules", ".git", ".vscode", "build"} <= DEFAULT_IGNORED_DIRS
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, Config(cache_dir="myindex"), skipped) == ["src/main.py"]
    assert "myindex/x.py" in paths(tmp_path)  # only pruned when it is the cache dir
    assert skipped == Counter()  # pruning is not a skip


def test_negation_reincludes_a_default_dir_but_never_vcs_metadata(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            ".codequestignore": "!build/\n!.git/\n",
            "build/gen.py": "x",
            ".git/hooks.py": "x",
        },
    )
    assert paths(tmp_path) == ["build/gen.py"]


def test_virtualenvs_are_recognised_by_pyvenv_cfg_not_by_name(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "env/pyvenv.cfg": "home = /usr\n",
            "env/lib/site.py": "x",
            "tools/py/pyvenv.cfg": "",  # any name counts
            "tools/py/lib/x.py": "x",
            "venv/app.py": "x",  # "venv" without pyvenv.cfg is project code
            "conda/conda-meta/history": "",
            "conda/lib/c.py": "x",
        },
    )
    assert paths(tmp_path) == ["venv/app.py"]


def test_root_that_is_a_venv_is_still_walked(tmp_path: Path):
    make_tree(tmp_path, {"pyvenv.cfg": "", "a.py": "x"})
    assert paths(tmp_path) == ["a.py"]


def test_unsupported_generated_and_too_large_are_counted(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "image.png": b"\x89PNG",
            "Makefile": "all:\n",
            "package-lock.json": "{}",
            "yarn.lock": "",
            "app.min.js": "x",
            "app.js.map": "{}",
            "big.py": "x" * 100,
            "small.py": "x" * 10,
        },
    )
    skipped: Counter[str] = Counter()
    found = list(discover(tmp_path, Config(max_file_bytes=50), skipped))
    assert [(f.path, f.language) for f in found] == [("Makefile", "make"), ("small.py", "python")]
    assert skipped == Counter(unsupported=1, generated=4, too_large=1)
    assert found[1].size == 10
    assert found[1].abs_path == str(tmp_path / "small.py")
    assert found[1].mtime_ns == (tmp_path / "small.py").stat().st_mtime_ns


def test_language_detection_for_yielded_files(tmp_path: Path):
    make_tree(tmp_path, {"a.rs": "", "b.tsx": "", "c.hpp": "", "Dockerfile": "", "d.PY": ""})
    languages = {f.path: f.language for f in discover(tmp_path, Config())}
    assert languages == {
        "a.rs": "rust",
        "b.tsx": "tsx",
        "c.hpp": "cpp",
        "Dockerfile": "dockerfile",
        "d.PY": "python",
    }


# -- order, streaming, limits -----------------------------------------------------------


def test_order_is_sorted_with_files_before_subdirectories(tmp_path: Path):
    make_tree(
        tmp_path,
        {"b/z.py": "", "b/a.py": "", "a/x.py": "", "z.py": "", "c.py": "", "b/sub/k.py": ""},
    )
    expected = ["c.py", "z.py", "a/x.py", "b/a.py", "b/z.py", "b/sub/k.py"]
    assert paths(tmp_path) == expected
    assert paths(tmp_path) == expected


def test_discover_streams_without_walking_everything_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    make_tree(tmp_path, {"a.py": "", "sub1/b.py": "", "sub2/c.py": ""})
    scanned: list[str] = []
    real_scandir = os.scandir

    def spy(path: str) -> contextlib.AbstractContextManager[Iterator[os.DirEntry[str]]]:
        scanned.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(walk.os, "scandir", spy)
    it = discover(tmp_path, Config())
    assert next(it).path == "a.py"
    assert scanned == ["."]
    assert [f.path for f in it] == ["sub1/b.py", "sub2/c.py"]


def test_max_files_yields_the_limit_and_counts_limit_once(tmp_path: Path):
    make_tree(tmp_path, {f"f{i}.py": "" for i in range(6)})
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, Config(max_files=3), skipped) == ["f0.py", "f1.py", "f2.py"]
    assert skipped == Counter(limit=1)
    exact: Counter[str] = Counter()
    assert len(paths(tmp_path, Config(max_files=6), exact)) == 6
    assert "limit" not in exact


def test_deep_trees_need_no_recursion(tmp_path: Path):
    depth = sys.getrecursionlimit() + 200
    chain = [str(tmp_path)]
    try:
        for _ in range(depth):  # os.makedirs would itself recurse
            chain.append(os.path.join(chain[-1], "d"))
            os.mkdir(chain[-1])
        Path(chain[-1], "leaf.py").write_text("x")
        assert paths(tmp_path) == ["/".join(["d"] * depth + ["leaf.py"])]
    finally:
        # pytest's tmp_path cleanup (shutil.rmtree) recurses per level: unwind by hand.
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(chain[-1], "leaf.py"))
        for path in reversed(chain[1:]):
            os.rmdir(path)


def test_root_must_be_a_directory_and_fails_eagerly(tmp_path: Path):
    (tmp_path / "f.py").write_text("")
    with pytest.raises(NotADirectoryError):
        discover(tmp_path / "f.py", Config())
    with pytest.raises(NotADirectoryError):
        discover(tmp_path / "missing", Config())


# -- odd names and special files --------------------------------------------------------


def test_odd_file_names(tmp_path: Path):
    names = ["with space.py", "ünïcødé.py", "new\nline.py", "-dash.py", "quote'\".py"]
    make_tree(tmp_path, {n: "x = 1\n" for n in names} | {"dir with space/日本.go": "x"})
    found = {f.path: f for f in discover(tmp_path, Config())}
    assert set(found) == set(names) | {"dir with space/日本.go"}
    assert read_source(found["new\nline.py"]) == "x = 1\n"
    (tmp_path / ".gitignore").write_text("new?line.py\nü*\n")
    assert set(paths(tmp_path)) == set(names) - {"new\nline.py", "ünïcødé.py"} | {
        "dir with space/日本.go"
    }


def test_names_that_are_not_utf8_are_skipped_as_unreadable(tmp_path: Path):
    fd = os.open(os.path.join(os.fsencode(tmp_path), b"bad\xff.py"), os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    (tmp_path / "good.py").write_text("")
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, skipped=skipped) == ["good.py"]
    assert skipped == Counter(unreadable=1)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_without_blocking(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "ok.py").write_text("")
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, skipped=skipped) == ["ok.py"]
    assert skipped == Counter(unreadable=1)


# -- symlinks ---------------------------------------------------------------------------


@pytest.mark.parametrize("follow", [False, True])
def test_symlink_to_ancestor_is_a_counted_loop(tmp_path: Path, follow: bool):
    make_tree(tmp_path, {"a/b/x.py": ""})
    (tmp_path / "a" / "b" / "up").symlink_to("..")
    (tmp_path / "a" / "self").symlink_to(".")
    (tmp_path / "me.py").symlink_to("me.py")  # a link to itself
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, Config(follow_symlinks=follow), skipped) == ["a/b/x.py"]
    assert skipped == Counter(symlink_loop=3)


def test_symlinks_outside_the_root_are_not_followed_by_default(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(outside, {"lib/ext.py": "", "one.py": ""})
    make_tree(root, {"main.py": ""})
    (root / "lib").symlink_to(outside / "lib")
    (root / "one.py").symlink_to(outside / "one.py")
    skipped: Counter[str] = Counter()
    assert paths(root, skipped=skipped) == ["main.py"]
    assert skipped == Counter(symlink_outside=2)

    followed = {f.path: f for f in discover(root, Config(follow_symlinks=True))}
    assert sorted(followed) == ["lib/ext.py", "main.py", "one.py"]
    assert followed["one.py"].abs_path == str(root / "one.py")


def test_symlinked_file_inside_root_is_indexed_under_the_link(tmp_path: Path):
    make_tree(tmp_path, {"real.py": "x = 1\n"})
    (tmp_path / "alias.py").symlink_to("real.py")
    (tmp_path / "dangling.py").symlink_to("missing.py")
    skipped: Counter[str] = Counter()
    found = {f.path: f for f in discover(tmp_path, Config(), skipped)}
    assert sorted(found) == ["alias.py", "real.py"]
    assert found["alias.py"].abs_path == str(tmp_path / "alias.py")
    assert read_source(found["alias.py"]) == "x = 1\n"
    assert skipped == Counter(unreadable=1)  # the dangling link


def test_symlinked_dir_inside_root_keeps_the_real_path(tmp_path: Path):
    make_tree(tmp_path, {"pkg/mod.py": ""})
    (tmp_path / "alias").symlink_to("pkg")  # sorts before its target
    for follow in (False, True):
        skipped: Counter[str] = Counter()
        assert paths(tmp_path, Config(follow_symlinks=follow), skipped) == ["pkg/mod.py"]
        assert skipped == Counter()


# -- unreadable and vanished ------------------------------------------------------------


def test_unreadable_directory_is_counted_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Tests may run as root, which chmod cannot lock out, so fail the listing instead.
    make_tree(tmp_path, {"locked/a.py": "", "open/b.py": ""})
    real_scandir = os.scandir
    locked = str(tmp_path / "locked")

    def scandir(path: str) -> contextlib.AbstractContextManager[Iterator[os.DirEntry[str]]]:
        if path == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(walk.os, "scandir", scandir)
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, skipped=skipped) == ["open/b.py"]
    assert skipped == Counter(unreadable=1)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read chmod 000 files"
)
def test_chmod_000_directory_and_file(tmp_path: Path):
    make_tree(tmp_path, {"locked/a.py": "", "secret.py": "x"})
    (tmp_path / "locked").chmod(0)
    (tmp_path / "secret.py").chmod(0)
    try:
        skipped: Counter[str] = Counter()
        found = list(discover(tmp_path, Config(), skipped))
        assert [f.path for f in found] == ["secret.py"]
        assert read_source(found[0], skipped) is None
        assert skipped == Counter(unreadable=2)
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_unreadable_file_is_counted_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make_tree(tmp_path, {"a.py": "x"})
    (file,) = discover(tmp_path, Config())
    real_open = os.open

    def deny(path: str, flags: int, mode: int = 0o777) -> int:
        if path == file.abs_path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(walk.os, "open", deny)
    skipped: Counter[str] = Counter()
    assert read_source(file, skipped) is None
    assert skipped == Counter(unreadable=1)


def test_file_vanishing_after_discover(tmp_path: Path):
    make_tree(tmp_path, {"a.py": "x", "gone/b.py": "y"})
    found = list(discover(tmp_path, Config()))
    os.remove(tmp_path / "a.py")
    (tmp_path / "gone" / "b.py").unlink()
    (tmp_path / "gone").rmdir()
    (tmp_path / "gone").write_text("now a file")  # parent replaced: also vanished
    skipped: Counter[str] = Counter()
    assert [read_source(f, skipped) for f in found] == [None, None]
    assert skipped == Counter(vanished=2)


def test_file_vanishing_between_listing_and_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make_tree(tmp_path, {"a.py": "", "b.py": ""})
    real_scandir = os.scandir

    @contextlib.contextmanager
    def scandir(path: str) -> Iterator[Iterator[os.DirEntry[str]]]:
        with real_scandir(path) as it:
            yield it
        os.remove(tmp_path / "a.py")  # after listing, before the entries are examined

    monkeypatch.setattr(walk.os, "scandir", scandir)
    skipped: Counter[str] = Counter()
    assert paths(tmp_path, skipped=skipped) == ["b.py"]
    assert skipped == Counter(vanished=1)
