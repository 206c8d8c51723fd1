"""Shared fixtures: a small multi-language project, the seeded hashing encoder, a tmp home.

Every test runs with ``CODEQUEST_HOME`` pointing at a per-session temporary folder and with
the Hugging Face hub switched off, so nothing reads or writes the user's caches and nothing
downloads.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from codequest.config import Config
from codequest.encoders import HashingEncoder

# One function per language with a distinctive name, plus a test file and a CSV file
# that discovery must leave out (unsupported). Line numbers matter to some tests: keep them stable.
SAMPLE_PROJECT: dict[str, str] = {
    "app/io_utils.py": '''\
        import json


        def read_json_file(path):
            """Read a JSON document from disk."""
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)


        class Backoff:
            """Retry helper."""

            def retry_with_backoff(self, fn, attempts=5):
                delay = 0.1
                for _ in range(attempts):
                    try:
                        return fn()
                    except OSError:
                        delay *= 2
                raise RuntimeError("gave up")
        ''',
    "web/email.js": """\
        function parseEmailAddress(text) {
          const match = /^([^@]+)@(.+)$/.exec(text);
          return match ? { user: match[1], domain: match[2] } : null;
        }

        module.exports = { parseEmailAddress };
        """,
    "cmd/hash.go": """\
        package main

        import (
        \t"crypto/sha256"
        \t"encoding/hex"
        )

        func ComputeSha256(data []byte) string {
        \tsum := sha256.Sum256(data)
        \treturn hex.EncodeToString(sum[:])
        }
        """,
    "src/http.rs": """\
        use std::time::Duration;

        pub fn http_get_with_timeout(url: &str, seconds: u64) -> Result<String, String> {
            let timeout = Duration::from_secs(seconds);
            fetch(url, timeout)
        }
        """,
    "src/Slugify.java": """\
        public class Slugify {
            public static String slugifyTitle(String title) {
                return title.toLowerCase().replaceAll("[^a-z0-9]+", "-");
            }
        }
        """,
    "tests/test_io_utils.py": """\
        from app.io_utils import read_json_file


        def test_read_json_file(tmp_path):
            path = tmp_path / "x.json"
            path.write_text("{}")
            assert read_json_file(path) == {}
        """,
    "data/table.csv": "id,name\n1,not source code\n",
}

# The symbols of SAMPLE_PROJECT, by the path that defines them.
SAMPLE_SYMBOLS = {
    "read_json_file": "app/io_utils.py",
    "Backoff": "app/io_utils.py",
    "parseEmailAddress": "web/email.js",
    "ComputeSha256": "cmd/hash.go",
    "http_get_with_timeout": "src/http.rs",
    "Slugify": "src/Slugify.java",
}


def write_tree(root: Path, files: Mapping[str, str | bytes], *, dedent: bool = True) -> Path:
    """Create ``{"relative/path": content}`` under ``root``; str content is dedented."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content) if dedent else content, encoding="utf-8")
    return root


def tree_digest(root: Path, *, skip: tuple[str, ...] = (".codequest",)) -> dict[str, str]:
    """Path -> blake2b of every regular file under ``root`` (symlinks by their target text)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = "link:" + os.readlink(path)
                continue
            st = os.lstat(path)
            if not os.path.isfile(path):
                out[rel] = f"special:{st.st_mode:o}"
                continue
            h = hashlib.blake2b(digest_size=16)
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out[rel] = f"{st.st_size}:{h.hexdigest()}"
    return out


@pytest.fixture(scope="session")
def codequest_home_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codequest-home")


@pytest.fixture(autouse=True)
def codequest_env(monkeypatch: pytest.MonkeyPatch, codequest_home_dir: Path) -> Path:
    """Point CODEQUEST_HOME at a session tmp folder and keep the hub offline."""
    monkeypatch.setenv("CODEQUEST_HOME", str(codequest_home_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    return codequest_home_dir


@pytest.fixture
def encoder() -> HashingEncoder:
    """The seeded fake encoder: deterministic, no weights, both document and query side."""
    return HashingEncoder(dim=64, seed=7)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """``make_project(files=None, name="project")`` writes a project and returns its root.

    Without ``files`` it writes :data:`SAMPLE_PROJECT` (Python, JS, Go, Rust, Java, a test
    file and a CSV file).
    """

    def make(files: Mapping[str, str | bytes] | None = None, name: str = "project") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        return write_tree(root, SAMPLE_PROJECT if files is None else files)

    return make


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Path:
    return make_project()


@pytest.fixture
def hashing_config() -> Callable[..., Config]:
    """``hashing_config(**overrides)``: a Config that uses the built-in hashing encoder."""

    def make(**overrides: Any) -> Config:
        return Config(model="hashing", **overrides)

    return make


@pytest.fixture
def make_workspace(hashing_config: Callable[..., Config]) -> Iterator[Callable[..., Any]]:
    """``make_workspace(root, **config_overrides)``: a hashing-encoder Workspace."""
    from codequest.workspace import Workspace

    made: list[Workspace] = []

    def make(root: Path, **overrides: Any) -> Workspace:
        ws = Workspace(root, hashing_config(**overrides))
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()


@pytest.fixture
def sample_symbols() -> dict[str, str]:
    """Symbol -> defining path for :data:`SAMPLE_PROJECT`."""
    return dict(SAMPLE_SYMBOLS)


@pytest.fixture
def digest_tree() -> Callable[..., dict[str, str]]:
    """:func:`tree_digest` as a fixture (tests are not a package, so they cannot import it)."""
    return tree_digest


@pytest.fixture
def sample_files() -> dict[str, str | bytes]:
    """A copy of :data:`SAMPLE_PROJECT` to extend before ``make_project(files)``."""
    return dict(SAMPLE_PROJECT)
