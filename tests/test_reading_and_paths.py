"""Reading discovered files (binary, encodings, growth, FIFOs) and classifying paths
(test, example, vendored or generated code).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codequest.discovery import (
    is_example_path,
    is_test_path,
    is_vendored_or_generated,
    read_source,
    walk,
)
from codequest.types import SourceFile
from helpers import write_tree


def make_tree(root: Path, tree: Mapping[str, str | bytes]) -> None:
    """Create files from ``{"relative/path": content}``, as written (no dedent)."""
    write_tree(root, tree, dedent=False)


def source(path: Path) -> SourceFile:
    st = path.stat()
    return SourceFile(path.name, str(path), "python", st.st_size, st.st_mtime_ns)


# -- reading ----------------------------------------------------------------------------


def test_binary_files_are_detected_on_read(tmp_path: Path):
    path = tmp_path / "video.ts"  # MPEG transport streams share TypeScript's extension
    path.write_bytes(b"G@\x00\x10" + b"\x00" * 100)
    skipped: Counter[str] = Counter()
    assert read_source(source(path), skipped) is None
    assert skipped == Counter(binary=1)


def test_nul_after_the_sniff_window_is_not_binary(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x" * 9000 + b"\x00")
    assert read_source(source(path)) == "x" * 9000 + "\x00"


def test_invalid_utf8_is_replaced_and_boms_are_handled(tmp_path: Path):
    cases: dict[str, tuple[bytes, str]] = {
        "bad.py": (b"s = '\xff\xfe caf\xc3\xa9'\n", "s = '\ufffd\ufffd café'\n"),
        "bom8.py": (b"\xef\xbb\xbfx = 1\n", "x = 1\n"),
        "bom16.py": ("\ufeffy = 'é'\r\n".encode("utf-16-le"), "y = 'é'\n"),
        "bom16be.py": ("\ufeffz\n".encode("utf-16-be"), "z\n"),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert read_source(source(tmp_path / name)) == expected, name


def test_crlf_becomes_lf_and_line_count_is_kept(tmp_path: Path):
    data = b"a\r\nb\r\n\r\nc\rd\n"
    path = tmp_path / "a.py"
    path.write_bytes(data)
    text = read_source(source(path))
    assert text == "a\nb\n\nc\rd\n"
    assert text.count("\n") == data.count(b"\n")


def test_file_that_grew_past_the_limit_is_too_large(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_text("x" * 10)
    file = source(path)
    path.write_text("x" * 100)
    skipped: Counter[str] = Counter()
    assert read_source(file, skipped, max_bytes=50) is None
    assert read_source(file, skipped, max_bytes=100) == "x" * 100
    assert skipped == Counter(too_large=1)


def test_growth_between_stat_and_read_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "a.py"
    path.write_text("x" * 100)
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> SimpleNamespace:  # the size before a writer appended
        st = real_fstat(fd)
        return SimpleNamespace(st_mode=st.st_mode, st_size=10)

    monkeypatch.setattr(walk.os, "fstat", stale_fstat)
    skipped: Counter[str] = Counter()
    assert read_source(source(path), skipped, max_bytes=50) is None
    assert skipped == Counter(too_large=1)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_read_of_a_file_replaced_by_a_fifo_does_not_block(tmp_path: Path):
    path = tmp_path / "a.py"
    path.write_text("x")
    file = source(path)
    path.unlink()
    os.mkfifo(path)
    skipped: Counter[str] = Counter()
    assert read_source(file, skipped) is None
    assert skipped == Counter(unreadable=1)


UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200).filter(lambda b: not b.startswith(UTF16_32_BOMS)))
def test_read_source_keeps_lines_of_any_bytes(tmp_path: Path, data: bytes):
    path = tmp_path / "prop.py"
    path.write_bytes(data)
    text = read_source(source(path))
    if b"\x00" in data:
        assert text is None
    else:
        assert text is not None
        assert text.count("\n") == data.count(b"\n")


# -- path classification ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_api.py",
        "pkg/test_util.py",
        "pkg/util_test.py",
        "conftest.py",
        "server/handler_test.go",
        "src/app.spec.ts",
        "src/app.test.jsx",
        "src/__tests__/a.js",
        "web/e2e/login.e2e-spec.ts",
        "src/test/java/com/x/Foo.java",
        "src/main/FooTest.java",
        "FooTests.cs",
        "TestParser.java",
        "FooIT.java",
        "spec/models/user_spec.rb",
        "test/user_test.rb",
        "lib/parser_test.exs",
        "crate/tests/integration.rs",
        "base/strings_unittest.cc",
        "FooSpec.scala",
        "Tests/AppTests/AppTests.swift",
        "pkg/testdata/input.go",
        "widget_test.dart",
    ],
)
def test_is_test_path_positive(path: str):
    assert is_test_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "src/contest.py",
        "src/Contest.java",
        "AUDIT.java",
        "src/latest.go",
        "Testament.java",
        "src/attestation.rs",
        "testing_utils_readme.md",
        "src/app.ts",
        "protest/x.py",
        "",
    ],
)
def test_is_test_path_negative(path: str):
    assert not is_test_path(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("vendor/github.com/x/y.go", True),
        ("third_party/zlib/inflate.c", True),
        ("web/node_modules/react/index.js", True),
        ("static/app.min.js", True),
        ("proto/api_pb2.py", True),
        ("api/v1/service.pb.go", True),
        ("src/generated/Foo.java", True),
        ("dist/bundle.js", True),
        ("package-lock.json", True),
        ("zz_generated.deepcopy.go", True),
        ("src/vendors.py", False),
        ("src/generator.py", False),
        ("lib/distance.go", False),
    ],
)
def test_is_vendored_or_generated(path: str, expected: bool):
    assert is_vendored_or_generated(path) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("examples/basic.py", True),
        ("docs/example/run.go", True),
        ("Samples/App.cs", True),
        ("demo/index.ts", True),
        ("src/example.py", False),
        ("src/demographics/x.py", False),
    ],
)
def test_is_example_path(path: str, expected: bool):
    assert is_example_path(path) is expected
