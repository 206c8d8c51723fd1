"""The ranking stages built for real repositories: definitions of the names a query
mentions, file and folder names, demoted paths, the per-file decay, file coherence.

Each test compares the shipped ranking with the same ranking minus one stage on a small
project (hashing encoder), so it fails when its stage stops working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codequest.search import RankingOptions
from codequest.search.features import coherence, keyword_matches
from codequest.search.options import Demotion
from codequest.search.query import file_keys_of, understand
from codequest.search.snapshot import demotion_of, name_parts
from codequest.search.symbols import file_key, stem_names
from codequest.types import SearchFilters

SHIPPED = RankingOptions()
# Text that makes a function long enough to be a chunk of its own.
_PAD = "It does what the caller asked and reports back. " * 9

PROJECT = {
    # Defines Builder; says its name once.
    "lib/core.rb": f"""\
        # {_PAD}
        class Builder
          def call(env)
            env
          end
        end
        """,
    # Uses Builder everywhere, defines nothing of that name.
    "lib/server.rb": """\
        def start
          app = Builder.new(Builder.default)
          Builder.configure(Builder.options)
          Builder.run(app, Builder.port)
        end
        """,
    # A file named after a topic (in short) whose body never says it.
    "app/config.py": f'''\
        def load(key):
            """Read the stored values back for the key. {_PAD}"""
            return STORE.get(key)
        ''',
    "app/settings.py": f'''\
        def read_all(value):
            """The configuration, loading the configuration from the environment. {_PAD}"""
            return env(value)
        ''',
    # The same API, current and legacy.
    "api/fetch_pages.py": "def fetch_pages(url):\n    return download(url, pages=True)\n",
    "api/compat/fetch_pages.py": "def fetch_pages(url):\n    return download(url, pages=True)\n",
    # One file with many matching chunks, and another with one.
    "parse/tokens.py": "".join(
        f'def parse_token_{i}(text):\n    """Parse one token. {_PAD}"""\n    return text\n\n\n'
        for i in range(6)
    ),
    "parse/numbers.py": f'def parse_token_number(text):\n    """{_PAD}"""\n    return int(text)\n',
    # A CamelCase name inside a sentence.
    "state/store.py": f"""\
        class StateManager:
            '''{_PAD}'''
            def persist(self):
                return self.flush()
        """,
    "state/other.py": "def persist_all(state_manager):\n    return state_manager.persist()\n",
    # A file named after a query word, and one whose name and text say it more often.
    "orm/column.py": f'''\
        def define(name, nullable, default):
            """The definition of a table field: its name, whether it may be empty, its default.
            {_PAD}"""
            return Field(name, nullable, default)
        ''',
    "orm/column_types.py": f'''\
        def column_types(column):
            """The types a column may take, for each column kind.
            {_PAD}"""
            return TYPES[column]
        ''',
}


@pytest.fixture
def searcher(make_project: Callable[..., Path], make_workspace: Callable[..., Any]) -> Any:
    ws = make_workspace(make_project(PROJECT))
    ws.index()
    return ws.searcher()


def paths(searcher: Any, query: str, options: RankingOptions = SHIPPED, **kw: Any) -> list[str]:
    return [r.path for r in searcher.search(query, limit=10, options=options, **kw)]


def test_the_definition_of_a_name_ranks_above_its_uses(searcher: Any) -> None:
    # The symbol table's name match alone also finds it; without either, the uses win.
    no_names = dataclasses.replace(SHIPPED, name_feature=False)
    assert paths(searcher, "Builder", no_names)[0] == "lib/core.rb"
    off = dataclasses.replace(no_names, definition_boost=False)
    assert paths(searcher, "Builder", off)[0] == "lib/server.rb"
    top = searcher.search("Builder", limit=1, explain=True)[0]
    assert top.symbol == "Builder" and top.explain["defines"] == 1.0


def test_a_file_named_after_the_name_makes_the_stronger_tier() -> None:
    assert stem_names("builder", "builder") and stem_names("builders", "builder")
    assert stem_names("type_map", "typemap") and not stem_names("rebuilder", "builder")


def test_a_name_inside_a_sentence_finds_its_definition(searcher: Any) -> None:
    query = "where does StateManager persist things"
    assert understand(query, SearchFilters()).names == ("StateManager",)
    assert paths(searcher, query)[0] == "state/store.py"
    explained = searcher.search(query, limit=3, explain=True)
    assert explained[0].explain["defines"] > 0


def test_file_named_after_the_query_words_is_lifted(searcher: Any) -> None:
    query = "how is the configuration loaded"  # a question: the class with the most stem
    assert paths(searcher, query)[0] == "app/config.py"
    off = dataclasses.replace(SHIPPED, stem_boost=False)
    assert paths(searcher, query, off)[0] == "app/settings.py"


def test_a_file_named_after_a_query_word_is_lifted(searcher: Any) -> None:
    query = "column definition in the orm"
    assert paths(searcher, query)[0] == "orm/column.py"
    off = dataclasses.replace(SHIPPED, named_file_boost=False)
    assert paths(searcher, query, off)[0] == "orm/column_types.py"
    top = searcher.search(query, limit=1, explain=True)[0]
    assert top.explain["named_file"] == 1.0


def test_the_file_names_a_query_spells() -> None:
    assert file_keys_of("JSON element hierarchy and the tree model") == {
        "json", "element", "hierarchy", "tree", "model",
        "jsonelement", "elementhierarchy", "treemodel",
    }  # fmt: skip
    assert file_keys_of("how is g used") == {"used"}  # short and stop words name no file
    assert file_key("src/Column.kt") == "column"
    assert file_key("lib/http_proxy.c") == file_key("lib/http-proxy.h") == "httpproxy"
    assert file_key(".eslintrc") == ".eslintrc"


def test_legacy_copies_rank_below_the_current_code(searcher: Any) -> None:
    ranked = paths(searcher, "fetch pages from a url")
    assert ranked.index("api/fetch_pages.py") < ranked.index("api/compat/fetch_pages.py")
    asked = paths(searcher, "compat fetch pages from a url")
    assert asked.index("api/compat/fetch_pages.py") < asked.index("api/fetch_pages.py")


def test_decay_keeps_one_file_from_filling_the_page(searcher: Any) -> None:
    query = "parse one token"
    assert paths(searcher, query)[:3].count("parse/tokens.py") < 3
    assert "parse/numbers.py" in paths(searcher, query)[:3]
    flat = dataclasses.replace(SHIPPED, decay=1.0)
    assert paths(searcher, query, flat)[:6] == ["parse/tokens.py"] * 6


def test_results_descend_after_the_decay(searcher: Any) -> None:
    scores = [r.score for r in searcher.search("parse one token", limit=10)]
    assert scores == sorted(scores, reverse=True)


def test_coherence_raises_each_files_best_chunk_by_the_files_total() -> None:
    files = np.array([0, 0, 0, 1], np.int32)
    score = np.array([0.5, 0.4, 0.3, 0.6], np.float32)
    out = coherence(files, score, 0.2)
    # File 0 sums 1.2 (the most): its best chunk gets 0.2 x 0.6 (the best score) in full.
    assert out[0] == pytest.approx(0.5 + 0.12)
    assert out[3] == pytest.approx(0.6 + 0.12 * 0.6 / 1.2)
    assert out[1] == score[1] and out[2] == score[2]


@pytest.mark.parametrize(
    ("path", "flags"),
    [
        ("src/app.py", Demotion.NONE),
        ("tests/test_app.py", Demotion.TEST),
        ("lib/compat/io.py", Demotion.LEGACY),
        ("lib/legacy/tests/test_io.py", Demotion.TEST | Demotion.LEGACY),
        ("pkg/__init__.py", Demotion.REEXPORT),
        ("types/index.d.ts", Demotion.DECLARATION),
        ("vendor/x/y.go", Demotion.VENDORED),
        ("examples/demo.py", Demotion.EXAMPLE),
    ],
)
def test_demotions_of_a_path(path: str, flags: Demotion) -> None:
    assert demotion_of(path) == flags


def test_path_words_and_keyword_matching() -> None:
    assert name_parts("src/Http_Client/handlerStack.ts") >= {
        "handlerstack",
        "handler",
        "stack",
        "http_client",
        "http",
        "client",
    }
    parts = name_parts("lib/configuration.py")
    assert keyword_matches(frozenset({"config", "graph"}), parts) == 1  # one starts the other
    assert keyword_matches(frozenset({"co"}), parts) == 0  # too short to count


def test_the_inverted_name_words_match_the_definition() -> None:
    """stem_match's index lookups give what comparing every file with every keyword gives."""
    import random
    from types import SimpleNamespace

    from codequest.search.features import STEM_MIN_SHARE, stem_match
    from codequest.search.snapshot import file_name_words

    rng = random.Random(3)
    words = ["conf", "config", "configuration", "http", "https", "handler", "xy", "sess", "hand"]
    paths = tuple(
        f"{rng.choice(words)}_{rng.choice(words)}/{rng.choice(words)}{rng.choice(words).title()}.py"
        for _ in range(60)
    )
    path_words, offsets, word_ids = file_name_words(paths)
    snap = SimpleNamespace(
        file_paths=paths,
        file_of=np.arange(2 * len(paths), dtype=np.int32) // 2,  # two chunks a file
        path_words=path_words,
        file_word_offsets=offsets,
        file_word_ids=word_ids,
    )
    positions = np.array([7, 3, 3, 100, 0, 119, 55], np.int64)
    for _ in range(50):
        keywords = frozenset(rng.sample([*words, "configure", "handlers", "zzz"], 3))
        fast = stem_match(snap, keywords, positions)  # type: ignore[arg-type]
        for i, path in enumerate(paths[f] for f in snap.file_of[positions].tolist()):
            share = keyword_matches(keywords, name_parts(path)) / len(keywords)
            assert fast[i] == pytest.approx(share if share >= STEM_MIN_SHARE else 0.0)


def test_a_result_is_named_after_the_definition_the_query_describes():
    """A chunk holding two small functions is named after the one whose name shares the
    query's words, or the one the query names; otherwise after its first definition."""
    from codequest.index.records import ChunkRecord
    from codequest.search.results import to_result
    from codequest.types import DefinedName

    record = ChunkRecord(
        1, "store/persist.py", "python", "function", "_fsync_dir", 10, 30, "h", "def _fsync_dir",
        defines=(
            DefinedName("_fsync_dir", "function", 10, 17),
            DefinedName("atomic_write_bytes", "function", 20, 30),
        ),
    )  # fmt: skip

    def named(query: str) -> str:
        q = understand(query, SearchFilters())
        return to_result(record, 1.0, {}, q.names, q.keywords).symbol

    assert named("write bytes to a temporary file and rename it over the target") == (
        "atomic_write_bytes"
    )
    assert named("_fsync_dir") == "_fsync_dir"
    q = understand("write bytes to a temporary file", SearchFilters())
    assert to_result(record, 1.0, {}, q.names, q.keywords).line == 20  # where it starts
    assert to_result(record, 1.0, {}, ("_fsync_dir",), frozenset()).line is None  # the start
    assert named("flush a folder to disk") == "_fsync_dir"  # no name shares a word: the first


def test_snake_case_names_inside_a_sentence_are_names():
    q = understand("how bats_pipe chains commands and keeps exit codes", SearchFilters())
    assert q.names == ("bats_pipe",)
    assert understand("retry with exponential backoff", SearchFilters()).names == ()


def test_a_definition_the_query_names_is_not_demoted_in_a_test_named_file(
    make_project: Callable[..., Path], make_workspace: Callable[..., Any]
) -> None:
    project = {
        # A library whose file name looks like a test file's (bats-core has one).
        "lib/test_functions.py": f'def bats_pipe(cmds):\n    """{_PAD}"""\n    return cmds\n',
        "lib/runner.py": f'def run_pipe(cmds):\n    """Chains the commands. {_PAD}"""\n',
    }
    ws = make_workspace(make_project(project))
    ws.index()
    searcher = ws.searcher()
    top = searcher.search("how bats_pipe chains commands", limit=2, explain=True)[0]
    assert top.path == "lib/test_functions.py" and top.explain["demote"] == 1.0
    # Without a name, the file is test code and ranks below.
    assert paths(searcher, "chains the commands")[0] == "lib/runner.py"


def test_a_packages_own_code_in_init_is_not_a_reexport(
    make_project: Callable[..., Path], make_workspace: Callable[..., Any]
) -> None:
    """__init__.py is demoted as a re-export file for its import lines only: a package
    such as json or collections defines its main API there."""
    imports = "".join(f"from .core import name_{i}\n" for i in range(40))
    init = (
        imports
        + "\n\n"
        + "".join(
            f'def helper_{i}(text):\n    """{_PAD}"""\n    return text\n\n\n' for i in range(3)
        )
    )
    ws = make_workspace(
        make_project({"pkg/__init__.py": init, "pkg/core.py": "def load(): pass\n"})
    )
    ws.index()
    snap = ws.searcher().snapshot()
    flags = {
        (r.kind, r.symbol): Demotion(int(snap.demoted[i])) for i, r in enumerate(snap.records)
        if r.path == "pkg/__init__.py"
    }  # fmt: skip
    assert any(Demotion.REEXPORT in f for (kind, _), f in flags.items() if kind == "window")
    assert all(Demotion.REEXPORT not in f for (kind, _), f in flags.items() if kind != "window")


def test_one_plain_word_names_what_is_defined_by_it(searcher: Any) -> None:
    assert understand("persist", SearchFilters()).names == ("persist",)
    top = searcher.search("persist", limit=1, explain=True)[0]
    assert top.path == "state/store.py" and top.explain["defines"] > 0


def test_the_snapshot_finds_every_file_of_a_name(searcher: Any) -> None:
    snap = searcher.snapshot()
    index = {path: i for i, path in enumerate(snap.file_paths)}
    assert sorted(snap.files_named(frozenset({"column", "store"})).tolist()) == sorted(
        [index["orm/column.py"], index["state/store.py"]]
    )
    assert snap.files_named(frozenset({"columntypes"})).tolist() == [index["orm/column_types.py"]]
    assert len(snap.files_named(frozenset({"nothing", "named", "so"}))) == 0
