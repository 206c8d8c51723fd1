"""Ranking: query classes, symbol matching, features, demotion, file/class aggregation, explain.

Each test builds a small project, indexes it with the hashing encoder and compares the
shipped ranking with the same ranking minus one feature, so a test fails when its feature
stops working, not only when the output changes.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codequest.index.records import ChunkRecord
from codequest.search import RankingOptions, classify_query
from codequest.search.options import QueryClass
from codequest.search.symbols import SymbolTable, name_similarity
from codequest.text import line_units
from codequest.tokens import normalize_symbol, split_identifier, stem, variants
from codequest.types import DefinedName, SearchFilters

SHIPPED = RankingOptions()

# Padding that makes each of two classes a chunk of its own (two do not fit one chunk).
_PAD = "The handler keeps the log readable and bounded. " * 8
# Padding so the class below is split into a header chunk plus method chunks.
_BODY = "\n".join(f"                step_{i} = {i}" for i in range(12))

PROJECT = {
    "lib/archive_util.py": '''\
        def make_archive(base_name, format, root_dir=None):
            """Create an archive file (zip or tar) and return its name."""
            return _dispatch(base_name, format, root_dir)


        def _dispatch(base_name, format, root_dir):
            return base_name + "." + format


        def unpack_archive(filename, extract_dir=None):
            """Unpack an archive into a folder."""
            return extract_dir
        ''',
    "lib/tempfile_util.py": '''\
        class NamedTemporaryFile:
            """A temporary file with a visible name that is deleted on close."""

            def __init__(self, suffix=""):
                self.suffix = suffix


        def gettempdir():
            """Return the folder where temporary files go."""
            return "/tmp"
        ''',
    "lib/handlers.py": f'''\
        class TimedRotatingFileHandler:
            """Rotate the log file at timed intervals. {_PAD}"""

            def should_rollover(self, record):
                return False


        class RotatingFileHandler:
            """Rotate the log file when it grows past a size. {_PAD}"""

            def should_rollover(self, record):
                return True
        ''',
    "web/httpClient.js": """\
        function parseHttpResponse(raw) {
          return raw.trim();
        }

        function statusCode(raw) {
          return 200;
        }
        """,
    "tests/test_archive_util.py": """\
        from lib.archive_util import make_archive


        def test_make_archive_zip():
            assert make_archive("x", "zip") == "x.zip"


        def test_make_archive_tar():
            assert make_archive("x", "tar") == "x.tar"
        """,
    "eventloop/scheduler.py": f'''\
        class EventLoop:
            """Run callbacks and timers."""

            def call_soon(self, callback):
                """Schedule a callback to run on the next loop iteration."""
{_BODY}
                self.ready.append(callback)

            def call_later(self, delay, callback):
                """Schedule a callback to run after a delay, via the timer heap."""
{_BODY}
                self.timers.append((delay, callback))

            def run_once(self):
                """Run ready callbacks and due timers for one loop iteration."""
{_BODY}
                for callback in self.ready:
                    callback()
        ''',
    "misc/notes.py": '''\
        def schedule_meeting(day):
            """Put a meeting on the calendar."""
            return day
        ''',
}


@pytest.fixture
def searcher(make_project: Callable[..., Path], make_workspace: Callable[..., Any]) -> Any:
    root = make_project(PROJECT)
    ws = make_workspace(root)
    ws.index()
    return ws.searcher()


def top(searcher: Any, query: str, options: RankingOptions = SHIPPED, **kw: Any) -> list[Any]:
    return searcher.search(query, limit=10, options=options, **kw)


def first_symbol(searcher: Any, query: str, options: RankingOptions = SHIPPED) -> str:
    results = top(searcher, query, options)
    return results[0].symbol if results else ""


# -- query classes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("JSONDecodeError", QueryClass.IDENTIFIER),
        ("make_archive", QueryClass.IDENTIFIER),
        ("Condition.wait_for", QueryClass.IDENTIFIER),
        ("fmt::format", QueryClass.IDENTIFIER),
        ("parseHTTP()", QueryClass.IDENTIFIER),
        ("iter_dump", QueryClass.IDENTIFIER),
        ("iterdump", QueryClass.NATURAL),  # one plain lower-case word is a topic
        ("session", QueryClass.NATURAL),
        ("Session", QueryClass.IDENTIFIER),
        ("Popen.wait timeout_s", QueryClass.IDENTIFIER),
        ("parse an email address into name and address", QueryClass.NATURAL),
        ("Popen communicate", QueryClass.NATURAL),
        ("how does the event loop schedule callbacks", QueryClass.QUESTION),
        ("Where is the config parsed", QueryClass.QUESTION),
        ("config parsing?", QueryClass.QUESTION),
        ("", QueryClass.NATURAL),
    ],
)
def test_classify_query(query: str, kind: str) -> None:
    assert classify_query(query) == kind


def test_tokens_helpers() -> None:
    assert split_identifier("parseHTTPResponse_v2") == ("parse", "http", "response", "v", "2")
    assert normalize_symbol("_Iter_Dump") == normalize_symbol("iterDump") == "iterdump"
    assert stem("callbacks") == stem("callback") == "callback"
    assert stem("parsing") == stem("parsed") == stem("parse")
    assert "callback" in variants("callbacks")


# -- symbol matching -------------------------------------------------------------------------
def _table(*symbols: str) -> SymbolTable:
    records = tuple(
        ChunkRecord(
            i + 1,
            f"f{i}.py",
            "python",
            "function",
            s,
            1,
            2,
            "",
            "",
            None,
            (DefinedName(s, "function", 1, 2),),
        )
        for i, s in enumerate(symbols)
    )
    return SymbolTable.build(records)


def test_symbol_table_holds_every_name_a_chunk_defines() -> None:
    record = ChunkRecord(
        1,
        "a.py",
        "python",
        "class",
        "Pool",
        1,
        9,
        "",
        "",
        None,
        (DefinedName("Pool", "class", 1, 20), DefinedName("Pool.get", "method", 5, 20)),
    )
    window = ChunkRecord(2, "a.py", "python", "method", "Pool.get", 10, 20, "", "")
    table = SymbolTable.build((record, window))
    # The window only continues Pool.get: it defines nothing.
    assert {k: v[0].tolist() for k, v in table.exact.items()} == {"Pool": [0], "get": [0]}
    assert table.full["pool.get"] == [0]


def test_symbol_table_exact_camel_snake_and_qualified() -> None:
    table = _table("assertAlmostEqual", "Condition.wait_for", "_iterdump", "wait")
    assert table.last[normalize_symbol("assert_almost_equal")] == [0]
    assert table.last["iterdump"] == [2]
    assert table.full["condition.waitfor"] == [1]
    assert table.parts["assertalmostequal"] == ("assert", "almost", "equal")


def test_symbol_table_shortlist_uses_subwords_and_prefixes() -> None:
    table = _table("NamedTemporaryFile", "TemporaryDirectory", "make_archive", "urlencode")
    short = table.shortlist(("named", "temp", "file"), "namedtempfile")
    assert "namedtemporaryfile" in short
    assert "makearchive" not in short


def test_name_similarity_orders_exact_prefix_fuzzy() -> None:
    def sim(q: str, name: str) -> float:
        return name_similarity(
            normalize_symbol(q), split_identifier(q), normalize_symbol(name), split_identifier(name)
        )

    assert sim("make_archive", "makeArchive") == 1.0
    prefix = sim("NamedTempFile", "NamedTemporaryFile")
    assert 0.6 < prefix < 1.0
    assert prefix > sim("NamedTempFile", "TemporaryDirectory")
    subset = sim("TimedRotatingHandler", "TimedRotatingFileHandler")
    assert subset > sim("TimedRotatingHandler", "RotatingFileHandler")
    assert sim("urlencode", "zzz_unrelated") < 0.5


def test_exact_symbol_query_returns_definition_first(searcher: Any) -> None:
    assert first_symbol(searcher, "make_archive") == "make_archive"
    assert first_symbol(searcher, "makeArchive") == "make_archive"  # camel for snake
    assert top(searcher, "makeArchive", explain=True)[0].explain["name"] == 1.0
    assert first_symbol(searcher, "parse_http_response") == "parseHttpResponse"


def test_misremembered_symbol_found_by_fuzzy_match(searcher: Any) -> None:
    assert first_symbol(searcher, "NamedTempFile") == "NamedTemporaryFile"
    assert first_symbol(searcher, "TimedRotatingHandler") == "TimedRotatingFileHandler"
    # The symbol table, not only the text, put them there: a fuzzy (below 1) name score.
    for query in ("NamedTempFile", "TimedRotatingHandler"):
        name = top(searcher, query, explain=True)[0].explain["name"]
        assert 0.6 < name < 1.0, (query, name)
    ranked = [r.symbol for r in top(searcher, "TimedRotatingHandler", explain=True)]
    # The closer name ranks above the other rotating handler.
    assert ranked.index("TimedRotatingFileHandler") < ranked.index("RotatingFileHandler")
    no_symbols = dataclasses.replace(SHIPPED, symbol_match=False)
    # Without the symbol table the dense+BM25 parts alone do not single the class out.
    results = top(searcher, "TimedRotatingHandler", no_symbols)
    assert all(r.explain.get("name", 0.0) == 0.0 for r in results)


def test_qualified_symbol_query(searcher: Any) -> None:
    results = top(searcher, "EventLoop.call_later")
    assert results[0].symbol == "EventLoop.call_later"


# -- demotion --------------------------------------------------------------------------------
def test_tests_are_demoted_unless_asked_for(searcher: Any) -> None:
    results = top(searcher, "create a zip archive")
    paths = [r.path for r in results]
    assert paths[0] == "lib/archive_util.py"
    first_test = next(i for i, p in enumerate(paths) if p.startswith("tests/"))
    off = top(searcher, "create a zip archive", dataclasses.replace(SHIPPED, demote=False))
    off_first_test = next(i for i, r in enumerate(off) if r.path.startswith("tests/"))
    assert first_test > off_first_test  # demotion moved the test file down
    asked = top(searcher, "tests for create a zip archive")
    assert asked[0].path.startswith("tests/")
    # An explicit glob also lifts the demotion.
    globbed = top(searcher, "create a zip archive", filters=SearchFilters(glob="tests/**"))
    assert globbed and all(r.path.startswith("tests/") for r in globbed)


# -- file aggregation and class results ------------------------------------------------------
CLASS_RESULTS = dataclasses.replace(SHIPPED, class_result_queries=(QueryClass.QUESTION,))


def test_question_gets_class_result_spanning_members_when_asked_for(searcher: Any) -> None:
    query = "how does the event loop run callbacks and timers"
    assert not any(r.kind == "class" and r.end_line >= 45 for r in top(searcher, query))
    results = top(searcher, query, CLASS_RESULTS)
    assert results[0].path == "eventloop/scheduler.py"
    assert results[0].kind == "class" and results[0].symbol == "EventLoop"
    assert results[0].start_line == 1 and results[0].end_line >= 45
    # Its range ends with the class's last line, whose length the index recorded.
    source = textwrap.dedent(PROJECT["eventloop/scheduler.py"])  # as make_project writes it
    last_line = source.split("\n")[results[0].end_line - 1]
    assert results[0].end_units == line_units(last_line) and len(last_line.strip()) > 0
    # Members of a class already shown are not repeated below it.
    assert not any(r.symbol.startswith("EventLoop.") for r in results)
    off = top(searcher, query, dataclasses.replace(CLASS_RESULTS, class_results=False))
    assert sum(r.symbol.startswith("EventLoop.") for r in off) >= 2


def test_file_aggregation_lifts_files_with_several_good_chunks(searcher: Any) -> None:
    query = "how does the loop schedule a callback"
    weights = {kind: dataclasses.replace(w, file=0.3) for kind, w in SHIPPED.weights.items()}
    with_file = dataclasses.replace(SHIPPED, weights=weights)
    results = top(searcher, query, with_file, explain=True)
    assert results[0].path == "eventloop/scheduler.py"
    assert results[0].explain["file"] == pytest.approx(1.0)
    no_file = top(
        searcher, query, dataclasses.replace(with_file, file_aggregation=False), explain=True
    )
    assert all(r.explain["file"] == 0.0 for r in no_file)


# -- explain ---------------------------------------------------------------------------------
def test_explain_lists_components(searcher: Any) -> None:
    results = top(searcher, "make_archive", explain=True)
    comp = results[0].explain
    keys = ("dense", "lexical", "name", "path", "definition", "file", "defines", "path_words")
    for key in (*keys, "demote", "file_rank", "final"):
        assert key in comp, key
    assert comp["name"] == 1.0
    assert comp["final"] == pytest.approx(results[0].score)
    assert comp["query_identifier"] == 1.0
    assert top(searcher, "make_archive")[0].explain == {}
    assert "explain" in results[0].to_json()


def test_rrf_fusion_still_available(searcher: Any) -> None:
    rrf = RankingOptions(fusion="rrf", rrf_equal=True)
    results = top(searcher, "make_archive", rrf, explain=True)
    assert results and "name" not in results[0].explain
    with pytest.raises(ValueError, match="unknown fusion"):
        RankingOptions(fusion="bogus")


@pytest.mark.parametrize(
    "query",
    ["how to sort a dict by value python", "How do I read a csv file", "how can i retry a request"],
)
def test_task_requests_are_natural_language_not_architecture_questions(query: str) -> None:
    # "how to X" asks for code that does X; only "how does/is/where ..." ask about the codebase.
    assert classify_query(query) == QueryClass.NATURAL


def test_how_does_questions_stay_questions() -> None:
    assert classify_query("how does the event loop schedule callbacks") == QueryClass.QUESTION


def test_cv_folds_are_seeded_and_balanced() -> None:
    from benchmarks.ranking import _fold_of

    folds = _fold_of(120, 5, 0)
    assert sorted(np.bincount(folds).tolist()) == [24] * 5
    assert (folds == _fold_of(120, 5, 0)).all()
    assert not (folds == _fold_of(120, 5, 1)).all()
