"""Reliability: a hostile workspace, damaged or foreign stores, memory bounded by the
embedding batch, and a cancel from another thread (kills and concurrent processes:
test_crash_safety).
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codequest.cli import main as cli_main
from codequest.config import Config
from codequest.index import indexer as indexer_mod
from codequest.index.indexer import EMBED_BATCH
from codequest.index.persist import META_FILE
from codequest.index.store import Store
from codequest.workspace import Workspace
from helpers import check_consistent

CHILD = Path(__file__).with_name("reliability_child.py")
HASHING = Config(model="hashing")


# -- a hostile workspace ------------------------------------------------------------------


def build_hostile_tree(root: Path, outside: Path) -> dict[str, int]:
    """Write every kind of trouble; returns the skip counts discovery must report."""
    root.mkdir()
    (root / "ok.py").write_text("def fine_function():\n    return 1\n")
    # binary content behind a source extension
    (root / "blob.py").write_bytes(b"\x7fELF\x00\x00\x01" + bytes(range(256)) * 8)
    # a 300 MB sparse file: instant to create, must never be read
    with open(root / "huge.py", "wb") as fh:
        fh.truncate(300 * 1024 * 1024)
    # invalid UTF-8, Latin-1, UTF-16 with a BOM, a UTF-8 BOM and CRLF
    (root / "invalid_utf8.py").write_bytes(b"def broken_\xff\xfe_name():\n    return '\xc3('\n")
    (root / "latin1.py").write_bytes("def caf\xe9():\n    return 'na\xefve'\n".encode("latin-1"))
    (root / "utf16.js").write_bytes(
        b"\xff\xfe" + "function utf16Function() { return 1; }\n".encode("utf-16-le")
    )
    (root / "bom_crlf.py").write_bytes(b"\xef\xbb\xbfdef bom_crlf():\r\n    return 2\r\n")
    # a 3 MB minified one-line bundle (not named .min.js, so it is not skipped by name)
    line = "".join(f"function f{i}(a){{return a*{i}}};" for i in range(120_000))
    (root / "bundle.js").write_text(line[: 3 * 1024 * 1024])
    # 10,000 nested brackets in three grammars
    (root / "deep.py").write_text("x = " + "[" * 10_000 + "]" * 10_000 + "\n")
    (root / "deep.js").write_text("const y = " + "(" * 10_000 + "1" + ")" * 10_000 + ";\n")
    (root / "deep.c").write_text("int f(void) " + "{" * 10_000 + "}" * 10_000 + "\n")
    # symlinks: a loop, a link outside the root, a dangling link, a file link outside
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "back").symlink_to(root / "sub", target_is_directory=True)
    outside.mkdir()
    (outside / "secret.py").write_text("def outside_secret():\n    return 'no'\n")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "escape_file.py").symlink_to(outside / "secret.py")
    (root / "dangling.py").symlink_to(root / "does-not-exist.py")
    # a FIFO with a source name: reading it would block forever
    os.mkfifo(root / "pipe.py")
    # odd names
    (root / "with space.py").write_text("def spaced_name():\n    return 3\n")
    (root / "données_é.py").write_text("def donnees_accent():\n    return 4\n")
    (root / "new\nline.py").write_text("def newline_in_name():\n    return 5\n")
    (root / "tab\there.py").write_text("def tab_in_name():\n    return 6\n")
    bad_name = os.path.join(os.fsencode(root), b"bad_\xff_name.py")
    os.close(os.open(bad_name, os.O_CREAT | os.O_WRONLY))
    # a file that refuses to be read (we run as root, so chmod would not stop us)
    (root / "denied.py").write_text("def denied_function():\n    return 7\n")
    return {
        "binary": 1,
        "too_large": 2,  # huge.py, and bundle.js at the 1 MB default
        "symlink_loop": 2,
        "symlink_outside": 2,
        "unreadable": 4,  # dangling link, FIFO, non-UTF-8 name, denied.py
    }


@pytest.fixture
def deny_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make opening ``denied.py`` fail with EACCES, as a chmod 000 file would for a user;
    returns every path opened (by name) while the fixture is active."""
    real_open = os.open
    opened: list[str] = []

    def guarded(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fsdecode(path))
        if opened[-1].endswith("denied.py"):
            raise PermissionError(13, "Permission denied", opened[-1])
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    return opened


def test_hostile_workspace_is_indexed_without_touching_a_byte(
    tmp_path: Path, deny_reads: list[str], digest_tree: Callable[..., dict[str, str]]
):
    root = tmp_path / "hostile"
    expected_skips = build_hostile_tree(root, tmp_path / "outside")
    before = digest_tree(root)
    outside_before = digest_tree(tmp_path / "outside")
    cache = tmp_path / "cache"
    ws = Workspace(root, Config(model="hashing", cache_dir=str(cache)))

    report = ws.index()
    # Nothing that could block or run away was opened: not the FIFO (reading it would wait
    # forever), nor anything through the links that loop or leave the root.
    opened = {Path(p).name for p in deny_reads}
    assert not opened & {"pipe.py", "secret.py", "escape_file.py", "dangling.py"}

    assert report.skipped == expected_skips, report.skipped
    indexed = set(ws.store.files)
    assert indexed == {
        "ok.py",
        "invalid_utf8.py",
        "latin1.py",
        "utf16.js",
        "bom_crlf.py",
        "deep.py",
        "deep.js",
        "deep.c",
        "with space.py",
        "données_é.py",
        "new\nline.py",
        "tab\there.py",
    }
    assert digest_tree(root) == before, "the user's files changed"
    assert digest_tree(tmp_path / "outside") == outside_before
    assert not (root / ".codequest").exists()

    # Everything indexed is searchable, odd names included, and survives a reload.
    for query, path in [
        ("newline_in_name", "new\nline.py"),
        ("donnees_accent", "données_é.py"),
        ("utf16Function", "utf16.js"),
        ("bom_crlf", "bom_crlf.py"),
        ("spaced_name", "with space.py"),
    ]:
        assert ws.search(query, limit=1)[0].path == path
    reloaded = Workspace(root, Config(model="hashing", cache_dir=str(cache)))
    assert set(reloaded.store.files) == indexed and not reloaded.problem
    assert reloaded.index().embedded == 0

    # With a larger size limit the minified bundle is indexed too, as windows.
    big = Workspace(root, Config(model="hashing", cache_dir=str(cache), max_file_bytes=4 << 20))
    report = big.index()
    assert "bundle.js" in big.store.files
    assert report.skipped["too_large"] == 1
    bundle = [big.store.chunks[c] for c in big.store.files["bundle.js"].chunk_ids]
    assert bundle and all(c.start_line == c.end_line == 1 for c in bundle)
    assert all(len(c.preview) <= 160 for c in bundle)
    assert digest_tree(root) == before


def test_cli_reports_the_hostile_skips(
    tmp_path: Path, deny_reads: None, capsys: pytest.CaptureFixture[str]
):
    root = tmp_path / "hostile"
    expected = build_hostile_tree(root, tmp_path / "outside")
    code = cli_main(
        ["index", str(root), "--model", "hashing", "--cache-dir", str(tmp_path / "cache")]
    )
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    listed = ", ".join(f"{k} {v}" for k, v in sorted(expected.items()))
    assert f"skipped: {listed}" in out


# -- damaged or foreign stores --------------------------------------------------------------


def damage(cache: Path, how: str) -> None:
    meta = cache / META_FILE
    (vectors,) = cache.glob("vectors-*.usearch")
    if how == "truncated-meta":
        meta.write_bytes(meta.read_bytes()[:100])
    elif how == "empty-meta":
        meta.write_bytes(b"")
    elif how == "flipped-meta":
        raw = bytearray(meta.read_bytes())
        raw[len(raw) // 2] ^= 0x10
        meta.write_bytes(bytes(raw))
    elif how == "truncated-vectors":
        os.truncate(vectors, vectors.stat().st_size // 2)
    elif how == "corrupt-vectors":
        raw = bytearray(vectors.read_bytes())
        raw[-10] ^= 0xFF
        vectors.write_bytes(bytes(raw))
    elif how == "missing-vectors":
        vectors.unlink()
    elif how == "meta-is-a-folder":
        meta.unlink()
        meta.mkdir()
    else:
        raise ValueError(how)


@pytest.mark.parametrize(
    "how",
    [
        "truncated-meta",
        "empty-meta",
        "flipped-meta",
        "truncated-vectors",
        "corrupt-vectors",
        "missing-vectors",
        "meta-is-a-folder",
    ],
)
def test_damaged_store_gives_one_clear_message_and_a_rebuild(
    project: Path, how: str, capsys: pytest.CaptureFixture[str]
):
    first = Workspace(project, HASHING).index()
    damage(project / ".codequest", how)
    code = cli_main(["index", str(project), "--model", "hashing"])
    out, err = capsys.readouterr()
    if how == "meta-is-a-folder":
        # Not something we can safely replace: one line, exit 2, nothing rebuilt.
        assert code == 2 and err.count("\n") == 1 and "meta.msgpack" in err
        return
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "rebuilding the index" in notes[0], err
    assert "Traceback" not in err
    ws = Workspace(project, HASHING)
    assert not ws.problem
    assert len(ws.store.chunks) == first.chunks
    assert ws.search("parseEmailAddress", limit=1)[0].path == "web/email.js"


def test_store_from_another_format_version_is_rebuilt_with_the_reason(
    project: Path, monkeypatch: pytest.MonkeyPatch
):
    from codequest.index import persist

    monkeypatch.setattr(persist, "FORMAT_VERSION", 0)
    Workspace(project, HASHING).index()
    monkeypatch.undo()
    report = Workspace(project, HASHING).index()
    assert report.rebuilt
    assert "format version 0, this CodeQuest reads versions 1, 2" in report.rebuild_reason


def test_store_from_another_model_is_rebuilt_with_the_reason(project: Path, encoder: Any):
    Workspace(project, HASHING).index()
    ws = Workspace(project, HASHING, document_encoder=encoder, query_encoder=encoder)
    report = ws.index()
    assert report.rebuilt and "built with model 'hashing-256-0'" in report.rebuild_reason
    assert f"but {encoder.identity!r} is configured" in report.rebuild_reason


# -- memory ------------------------------------------------------------------------------


def test_pending_chunks_stay_bounded_by_the_batch(
    make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
):
    """The indexer never holds more than about two batches of chunks (text included)."""
    batch = 16
    monkeypatch.setattr(indexer_mod, "EMBED_BATCH", batch)
    peak = {"pending": 0, "flushes": 0}
    real_flush = indexer_mod._Run.flush

    def flush(self: Any) -> None:
        pending = sum(len(pf.chunks) for pf in self.pending)
        peak["pending"] = max(peak["pending"], pending)
        peak["flushes"] += 1
        real_flush(self)

    monkeypatch.setattr(indexer_mod._Run, "flush", flush)
    # Each function long enough to be a chunk of its own.
    doc = "Add the number to x, the way the caller expects it added. " * 6
    body = "".join(f'def fn_{i}(x):\n    """{doc}"""\n    return x + {i}\n\n\n' for i in range(3))
    files = {f"pkg{i % 7}/m{i}.py": body.replace("fn_", f"fn{i}_") for i in range(200)}
    files.update({f"copies/c{i}.py": body for i in range(200)})  # reused after the first
    root = make_project(files)
    ws = Workspace(root, HASHING)
    report = ws.index()
    assert report.chunks == 1200 and report.reused > 500
    assert peak["flushes"] >= 1200 // (2 * batch)
    assert peak["pending"] <= 2 * batch, peak
    # A move of everything (all chunks reused) is just as bounded.
    peak.update(pending=0, flushes=0)
    (root / "pkg0").rename(root / "moved")
    report = ws.index()
    assert report.embedded == 0 and report.reused > 0
    assert peak["pending"] <= 2 * batch
    assert batch <= EMBED_BATCH  # the real batch is what the bound scales with


def test_cancel_from_another_thread_leaves_a_valid_store(generated_project: Path):
    ws = Workspace(generated_project, HASHING)
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    report = ws.index(cancel=cancel)
    timer.cancel()
    check_consistent(Store.load(ws.cache_dir, model=ws.model_identity))
    if report.cancelled:
        assert report.files < 300
    finished = Workspace(generated_project, HASHING).index()
    assert finished.files == 300 and not finished.cancelled
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(["status", "--path", str(generated_project), "--model", "hashing"]) == 0
    assert "files: 300" in buf.getvalue()
