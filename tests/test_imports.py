"""Import hygiene, checked in fresh interpreters so nothing already imported hides a leak.

* The query path never imports torch or sentence-transformers (a warm search must start
  fast and must not need them), nor the training code; building the shipped student at
  first use needs torch but no training library.
* The engine never imports pygls or lsprotocol (it is a library and a CLI first), nor the
  front ends (``cli``, ``lsp``) or the training code (``distill``), not even inside a
  function; the package has no import cycle. Both are read from the source (an import
  graph with the imports inside functions, without those under ``if TYPE_CHECKING:``).
* usearch followed by onnxruntime does not crash: usearch 2.26 segfaulted in that order,
  and pyproject pins ``usearch<2.26``; this guards the pin.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from helpers import TRAINING_MODULES, BuiltStudent

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


def test_the_language_servers_embedding_path_imports_no_torch():
    code = """
    import codequest.lsp.server
    import codequest.index.embedding
    import codequest.encoders.onnx_document
    import codequest.encoders.worker
    """
    assert loaded_after(code, HEAVY) == []


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


# -- the import graph -----------------------------------------------------------------------
PACKAGE = Path(__file__).resolve().parents[1] / "server" / "codequest"
# The front ends and the training code; every other module is the engine.
FRONT_ENDS = ("codequest.cli", "codequest.lsp", "codequest.bench_cli", "codequest.__main__")
TRAINING = ("codequest.distill",)


def _module_names() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package's __init__)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, those inside functions included, except the ones under
    ``if TYPE_CHECKING:`` (they never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(
    module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: Iterable[str]
) -> set[str]:
    """The modules one import statement names: ``from package import module`` names the
    module, ``from module import name`` the module; relative imports resolved."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
        base = ".".join(parts + ([node.module] if node.module else []))
    named = {f"{base}.{alias.name}" for alias in node.names}
    submodules = named & set(modules)
    return submodules if submodules == named else submodules | {base}


def import_graph() -> dict[str, set[str]]:
    """module -> the modules (of this package or outside it) it imports."""
    modules = _module_names()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            edges |= _targets(name, is_package, node, modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root] & graph.keys())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child] & graph.keys()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "codequest.search.searcher" in graph
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_engine_imports_no_front_end_and_no_training_code():
    """Not even inside a function: the engine is a library first (STYLE.md)."""
    banned = (*FRONT_ENDS, *TRAINING, "pygls", "lsprotocol")
    leaks = {
        module: sorted(t for t in targets if _under(t, banned))
        for module, targets in import_graph().items()
        if not _under(module, FRONT_ENDS + TRAINING)
    }
    assert {module: found for module, found in leaks.items() if found} == {}


def test_the_serving_path_never_imports_the_training_code(project: Path):
    """Indexing and searching as a library, the CLI's search and the language server."""
    code = f"""
    import io, contextlib
    from codequest import Config, Workspace
    from codequest.cli import main
    from codequest.lsp.server import create_server
    ws = Workspace({str(project)!r}, Config(model="hashing"))
    ws.index()
    assert ws.search("parseEmailAddress")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["search", "read json", "--path", {str(project)!r}, "--model", "hashing"]) == 0
    create_server()
    """
    assert loaded_after(code, TRAINING_MODULES) == []
