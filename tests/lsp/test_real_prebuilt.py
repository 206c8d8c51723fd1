"""A prebuilt index at real size, with the real model, used the way a team uses one.

This project's own ``server/codequest`` (hundreds of chunks) is committed into a temporary
repository and indexed once with ``codequest index --output``. A fresh clone with one new
file then searches it through the command line and through the language server, with the
default query encoder (the shipped student, built once per session). At this size a query
has more lexical candidates than dense ones, which a toy index never reaches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lsp_helpers import eventually, search, start, status, stop, wait_logged

from codequest.encoders.students import default_student_name

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

SOURCE = Path(__file__).resolve().parents[2] / "server" / "codequest"
GIT = ["git", "-c", "user.name=CodeQuest Tests", "-c", "user.email=tests@codequest.invalid"]
LOAD_WAIT = 180.0  # the teacher loads and embeds the overlay on a busy 2-core machine

NEW_FILE = "codequest/backoff.py"
NEW_CODE = '''\
    import time


    def call_until_it_works(operation, attempts=5, pause=0.5):
        """Run the operation again after each failure, sleeping twice as long every time."""
        for attempt in range(attempts):
            try:
                return operation()
            except Exception:
                time.sleep(pause * 2**attempt)
        raise RuntimeError("gave up")
    '''
# Query -> (path, symbol) of the expected first result: one answer from the new file in
# the overlay, two from the prebuilt base. A result inside a class (its ``__init__`` chunk)
# answers a query about the class.
QUERIES = {
    "retry the operation with exponential backoff until it stops failing": (
        NEW_FILE,
        "call_until_it_works",
    ),
    "write bytes to a temporary file, sync it to disk and rename it over the target": (
        "codequest/index/persist.py",
        "atomic_write_bytes",
    ),
    "encode a query into a vector with onnx runtime": (
        "codequest/encoders/onnx_query.py",
        "OnnxQueryEncoder",
    ),
}


@dataclass(frozen=True)
class Prebuilt:
    index: Path
    clone: Path
    chunks: int
    env: dict[str, str]


def codequest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codequest", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def assert_quiet(done: subprocess.CompletedProcess[str]) -> None:
    """Exit 0, and nothing on stderr that reads like a problem."""
    assert done.returncode == 0, done.stderr[-3000:]
    assert "traceback" not in done.stderr.lower(), done.stderr[-3000:]
    assert "warning" not in done.stderr.lower(), done.stderr[-3000:]


def answers(found: str, expected: str) -> bool:
    """The expected definition, or a member of it."""
    return found == expected or found.startswith(f"{expected}.")


@pytest.fixture(scope="module")
def prebuilt(
    tmp_path_factory: pytest.TempPathFactory, shipped_student: Any, codequest_home_dir: Path
) -> Iterator[Prebuilt]:
    base = tmp_path_factory.mktemp("real-prebuilt")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "CODEQUEST_DEBUG")}
    env.update(CODEQUEST_HOME=str(codequest_home_dir), HF_HUB_OFFLINE="1")

    repo = base / "repo"
    shutil.copytree(SOURCE, repo / "codequest", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text(".codequest/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True)
    index = base / "index"
    built = codequest(env, "index", str(repo), "--output", str(index), "--json")
    assert_quiet(built)
    report = json.loads(built.stdout)

    clone = base / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    (clone / NEW_FILE).write_text(textwrap.dedent(NEW_CODE), encoding="utf-8")
    yield Prebuilt(index, clone, int(report["chunks"]), env)


def test_the_prebuilt_index_is_real_sized(prebuilt: Prebuilt):
    assert prebuilt.chunks >= 500


def test_a_fresh_clone_searches_it_from_the_command_line(prebuilt: Prebuilt):
    where = ["--path", str(prebuilt.clone), "--index", str(prebuilt.index)]
    for query, (path, symbol) in QUERIES.items():
        done = codequest(prebuilt.env, "search", query, *where, "--json", "-k", "5")
        assert_quiet(done)
        top = json.loads(done.stdout)[0]
        assert top["path"] == path and answers(top["symbol"], symbol), (query, done.stdout[:2000])

    done = codequest(prebuilt.env, "status", *where, "--json")
    assert_quiet(done)
    state = json.loads(done.stdout)
    assert state["queryEncoder"] == default_student_name() == "lora32-keep025-cos"
    assert state["prebuilt"]["used"] and state["prebuilt"]["overlayFiles"] == 1
    assert state["chunks"] > prebuilt.chunks  # the base's and the new file's


async def test_a_fresh_clone_searches_it_through_the_language_server(
    prebuilt: Prebuilt, tmp_path: Path
):
    options = {"indexPath": str(prebuilt.index), "cacheDir": str(tmp_path / "cache")}
    client = await start({"clone": prebuilt.clone}, options, env=prebuilt.env)
    try:

        async def ready() -> dict[str, Any] | None:
            (folder,) = (await status(client))["folders"]
            return folder if folder["state"] == "ready" else None

        folder = await eventually(ready, timeout=LOAD_WAIT, what="the overlay to be indexed")
        assert folder["problem"] == "" and folder["chunks"] > prebuilt.chunks
        assert folder["queryEncoder"] == "lora32-keep025-cos"
        (indexed,) = await wait_logged(client, "CodeQuest: indexed ")
        assert ", 1 embedded," in indexed, indexed
        for query, (path, symbol) in QUERIES.items():
            reply = await search(client, {"query": query, "limit": 5})
            top = reply["results"][0]
            assert top["uri"] == (prebuilt.clone / path).as_uri(), (query, reply["results"])
            assert answers(top["name"], symbol), (query, reply["results"])
    finally:
        await stop(client)
