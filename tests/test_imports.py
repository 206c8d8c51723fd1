"""Import hygiene, checked in fresh interpreters so nothing already imported hides a leak.

* The query path never imports torch or sentence-transformers (a warm search must start
  fast and must not need them), nor the training code; building the shipped student at
  first use needs torch but no training library.
* The engine never imports pygls or lsprotocol (it is a library and a CLI first).
* usearch followed by onnxruntime does not crash: usearch 2.26 segfaulted in that order,
  and pyproject pins ``usearch<2.26``; this guards the pin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import TRAINING_MODULES, BuiltStudent

HEAVY = ("torch", "sentence_transformers", "transformers")
LSP = ("pygls", "lsprotocol")


def run_python(code: str, *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def loaded_after(code: str, watch: tuple[str, ...], *, cwd: Path | None = None) -> list[str]:
    """Run ``code`` in a fresh interpreter; which of ``watch`` ended up in sys.modules."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print("LOADED=" + json.dumps(sorted(m for m in {list(watch)!r} if m in sys.modules)))
        """
    )
    result = run_python(probe, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("LOADED=")][-1]
    return list(json.loads(line.removeprefix("LOADED=")))


QUERY_PATH_IMPORTS = """
import codequest
import codequest.cli
import codequest.search
import codequest.workspace
import codequest.index.store
import codequest.index.indexer
import codequest.encoders
import codequest.encoders.onnx_query
import codequest.encoders.hashing
"""


def test_query_path_imports_no_torch():
    assert loaded_after(QUERY_PATH_IMPORTS, HEAVY) == []


def test_a_whole_index_and_search_with_the_cli_imports_no_torch(project: Path):
    code = f"""
    import io, contextlib
    from codequest.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["index", {str(project)!r}, "--model", "hashing"]) == 0
        assert main(["search", "read json", "--path", {str(project)!r}, "--model", "hashing",
                     "--json"]) == 0
    """
    assert loaded_after(code, HEAVY + LSP) == []


def test_engine_never_imports_the_language_server_libraries(project: Path):
    code = (
        QUERY_PATH_IMPORTS
        + f"""
import codequest.discovery, codequest.chunking, codequest.index.lexical, codequest.config
from codequest import Config, Workspace
ws = Workspace({str(project)!r}, Config(model="hashing"))
ws.index()
assert ws.search("parseEmailAddress")[0].symbol == "parseEmailAddress"
ws.status()
"""
    )
    assert loaded_after(code, LSP) == []


def test_usearch_then_onnxruntime_does_not_crash(tmp_path: Path):
    code = """
    import numpy as np
    from usearch.index import Index
    index = Index(ndim=8, metric="cos", dtype="f16")
    index.add(np.arange(4, dtype=np.uint64), np.random.default_rng(0).random((4, 8), np.float32))
    import onnxruntime
    session_options = onnxruntime.SessionOptions()
    found = index.search(np.ones(8, np.float32), 2)
    import usearch
    print("OK", usearch.__version__, onnxruntime.__version__, len(found.keys))
    """
    result = run_python(code, cwd=tmp_path)
    assert result.returncode == 0, (
        f"exit {result.returncode} (negative = killed by signal {-result.returncode}); "
        f"stderr: {result.stderr[-2000:]}"
    )
    assert result.stdout.startswith("OK ")
    version = tuple(int(p) for p in result.stdout.split()[1].split(".")[:2])
    assert version < (2, 26), "usearch >= 2.26 segfaults next to onnxruntime; keep the pin"


@pytest.mark.parametrize("module", ["codequest.search", "codequest.workspace"])
def test_onnx_query_encoder_module_alone_needs_no_torch(module: str):
    code = f"""
    import {module}
    from codequest.encoders.onnx_query import OnnxQueryEncoder
    """
    assert loaded_after(code, HEAVY + LSP) == []


@pytest.mark.slow
def test_building_the_shipped_student_needs_no_training_library(shipped_student: BuiltStudent):
    """The first use builds the default student from its delta with torch alone: peft,
    model2vec and the training code stay unimported (a plain install has none of them)."""
    from codequest.encoders.students import default_student_name

    assert shipped_student.note == ""
    assert shipped_student.name == default_student_name() == "lora32-keep025-cos"
    assert shipped_student.training_modules == ()


@pytest.mark.slow
def test_serving_a_built_student_imports_neither_torch_nor_training_code(
    shipped_student: BuiltStudent,
):
    code = """
    from codequest.config import Config
    from codequest.encoders import document_encoder_identity, load_query_encoder
    config = Config()
    encoder = load_query_encoder(config, document_encoder_identity(config))
    assert encoder.name == "lora32-keep025-cos", encoder.name
    assert encoder.encode_query("read a json file").shape == (encoder.dim,)
    """
    assert loaded_after(code, HEAVY + LSP + TRAINING_MODULES) == []
