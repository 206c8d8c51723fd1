"""Benchmarks: averaging, the BEIR loader, the stdlib-bench scorer port, the quick run.

The quick run's test uses a tiny BEIR set named ``cosqa`` (so the latency section can draw
its base functions and queries from it) and the hashing encoder, so nothing downloads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmarks.beir import evaluate, load_beir, subset, unique_queries
from benchmarks.common import eval_root, latency_stats
from benchmarks.lsp_bench import server_available
from benchmarks.memstore import FixedQueryEncoder, Item, build_store
from benchmarks.quality import RunConfig, corpus_store, evaluate_set
from benchmarks.stdlib_bench import load_annotations, read_run, score_run

import helpers
from codequest.encoders import DOCUMENT_RECIPE, HashingEncoder, document_text
from codequest.index.store import Store
from codequest.search import Searcher
from codequest.types import Chunk

STDLIB_BENCH = eval_root() / "stdlib-bench"
needs_stdlib_bench = pytest.mark.skipif(
    not (STDLIB_BENCH / "score.py").is_file(), reason="shared stdlib-bench not found"
)

# Functions and queries of the tiny set: each query names words of exactly one function.
DOCS = {
    "d1": ("read_json", "def read_json(path):\n    return json.load(open(path))"),
    "d2": ("retry_backoff", "def retry_backoff(fn):\n    delay = 1\n    return fn()"),
    "d3": ("parse_email", "def parse_email(text):\n    return text.split('@')"),
    "d4": ("sha256_file", "def sha256_file(path):\n    return hashlib.sha256(path)"),
    "d5": ("sort_tokens", "def sort_tokens(words):\n    return sorted(words)"),
    "d6": ("merge_dicts", "def merge_dicts(a, b):\n    return {**a, **b}"),
}
QUERIES = {
    "q1": "read json from a path",
    "q2": "retry with backoff delay",
    "q3": "parse an email address text",
    "q4": "sha256 hash of a file",
    "q5": "sort the words",
    "q6": "merge two dicts",
}


def write_beir(folder: Path, *, dev: bool = True) -> Path:
    """DOCS and QUERIES (one query in no split), q1-q4 relevant in test, q5-q6 in dev."""
    qrels = {"test": [("q1", "d1"), ("q2", "d2"), ("q3", "d3"), ("q4", "d4")]}
    if dev:
        qrels["dev"] = [("q5", "d5"), ("q6", "d6")]
    queries = {**QUERIES, "other": "not in any split"}
    return helpers.write_beir(folder, DOCS, queries, qrels)


# -- averaging and statistics --------------------------------------------------------------
def test_evaluate_averages_and_counts_missing_queries_as_zero() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    run = {"q1": ["d1"]}
    scores = evaluate(run, qrels)
    assert scores["mrr@10"] == 0.5
    assert scores["recall@1"] == 0.5
    assert scores["ndcg@10"] == 0.5


def test_latency_stats_percentiles() -> None:
    stats = latency_stats([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert stats["n"] == 100
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p99_ms"] == pytest.approx(99.01)
    assert latency_stats([]) == {"n": 0}


# -- BEIR loading and evaluation ---------------------------------------------------------
def test_load_beir_keeps_only_split_queries(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "tiny"), "test")
    assert list(data.queries) == ["q1", "q2", "q3", "q4"]
    assert len(data.corpus) == 6
    assert data.qrels["q2"] == {"d2": 1}
    small = subset(data, max_queries=2, max_docs=3)
    assert list(small.queries) == ["q1", "q2"]
    ids = [d.id for d in small.corpus]
    assert {"d1", "d2"} <= set(ids) and len(ids) == 3


def test_unique_queries_keep_the_order_of_the_splits(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "tiny")
    test, dev = load_beir(folder, "test"), load_beir(folder, "dev")
    assert unique_queries(test, dev) == [QUERIES[q] for q in ("q1", "q2", "q3", "q4", "q5", "q6")]
    assert unique_queries(test, test) == unique_queries(test)


def test_evaluate_set_through_the_shipped_searcher(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "tiny"), "test")
    configs = [RunConfig.parse(c) for c in ("bm25", "dense:hashing", "hybrid:hashing")]
    rows = evaluate_set(
        data,
        HashingEncoder(),
        configs,
        model="hashing",
        per_query_dir=tmp_path / "pq",
        progress=False,
    )
    assert [r["config"] for r in rows] == ["bm25", "dense:hashing", "hybrid:hashing"]
    for row in rows:
        assert row["mrr@10"] == 1.0, row  # every query names its function's words
        lines = Path(row["per_query_file"]).read_text().splitlines()
        first = json.loads(lines[0])
        assert first["qid"] == "q1" and first["ranking"][0] == "d1"
        assert first["first_relevant_rank"] == 1
    with pytest.raises(ValueError, match="must be 'bm25'"):
        RunConfig.parse("sparse:thing")
    assert all(row["document_recipe"] == DOCUMENT_RECIPE for row in rows if row["hybrid"])


def test_documents_are_embedded_as_the_indexer_would(tmp_path: Path) -> None:
    """The quality section measures the shipped system, so documents get the indexer's
    context line (their name; they have no path) in front of the code."""

    class Recording(HashingEncoder):
        texts: list[str] = []

        def encode_documents(self, texts, on_batch=None):  # type: ignore[no-untyped-def]
            Recording.texts = list(texts)
            return super().encode_documents(texts)

    data = load_beir(write_beir(tmp_path / "tiny"), "test")
    corpus_store(data, Recording(), progress=False)
    first = data.corpus[0]
    assert Recording.texts[0] == document_text(
        Chunk("", first.language, "function", first.title, 1, 1, first.text, "")
    )
    assert Recording.texts[0] != first.text and Recording.texts[0].endswith(first.text)


def test_build_store_round_trips_and_searches(tmp_path: Path) -> None:
    enc = HashingEncoder()
    items = [
        Item(f"f{i}.py", "python", "function", t, 1, 2, x) for i, (t, x) in enumerate(DOCS.values())
    ]
    vectors = enc.encode_documents([i.text for i in items])
    store = build_store(tmp_path / "s", enc.identity, items, vectors)
    store.save()
    loaded = Store.load(tmp_path / "s", model=enc.identity)
    assert len(loaded.chunks) == len(items) == len(loaded.vectors)
    query = "parse an email address text"
    searcher = Searcher(loaded, FixedQueryEncoder({query: enc.encode_query(query)}, enc.identity))
    assert searcher.search(query, limit=3)[0].symbol == "parse_email"
    assert np.allclose(loaded.vectors.get(3, dtype=np.float32), vectors[2], atol=1e-2)


def test_build_store_ranks_equal_scores_the_same_way_every_time(tmp_path: Path) -> None:
    """Exact search orders ties by insertion; the store is filled in key order."""
    rng = np.random.default_rng(0)
    vector = rng.standard_normal(16).astype(np.float32)
    vector /= np.linalg.norm(vector)
    items = [Item(f"f{i}.py", "python", "function", f"s{i}", 1, 1, f"x{i}") for i in range(40)]
    orders = [
        build_store(tmp_path / str(n), "m", items, np.tile(vector, (40, 1)))
        .search_vectors(vector, 10)[0]
        .tolist()
        for n in range(5)
    ]
    assert orders == [list(range(40, 30, -1))] * 5


def test_embedding_cache_round_trips_every_key(tmp_path: Path) -> None:
    from benchmarks.encoders import CachingDocumentEncoder

    # 2,000 sha256 keys: several end in a NUL byte, which a bytes-dtype array would drop.
    texts = [f"def f{i}(): return {i}" for i in range(2000)]
    first = CachingDocumentEncoder(HashingEncoder(), tmp_path / "cache")
    vectors = first.encode_documents(texts)
    again = CachingDocumentEncoder(HashingEncoder(), tmp_path / "cache")
    assert np.array_equal(again.encode_documents(texts), vectors)
    assert again.misses == 0 and again.hits == len(texts)


# -- the stdlib-bench scorer port ----------------------------------------------------------
@needs_stdlib_bench
@pytest.mark.parametrize("name", ["bm25", "grep", "semble_bm25"])
def test_scorer_port_agrees_with_score_py(name: str) -> None:
    run_path = STDLIB_BENCH / "baselines" / f"{name}.jsonl"
    ours = score_run(read_run(run_path), load_annotations())
    out = subprocess.run(
        [sys.executable, str(STDLIB_BENCH / "score.py"), str(run_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    reference = float(out.split("=")[1].split()[0])
    assert round(ours["ndcg@10"], 4) == reference
    for line in out.splitlines()[1:]:
        category, value = line.split()[:2]
        assert round(ours["per_category"][category], 4) == float(value)


@needs_stdlib_bench
def test_scorer_port_reproduces_the_published_bm25_baseline() -> None:
    scores = score_run(read_run(STDLIB_BENCH / "baselines" / "bm25.jsonl"), load_annotations())
    assert round(scores["ndcg@10"], 4) == 0.4873
    assert round(scores["per_category"]["symbol"], 4) == 0.7412
    assert scores["queries"] == 120 and scores["missing"] == 0


# -- the quick run's JSON --------------------------------------------------------------------
def test_quick_run_writes_the_documented_json(tmp_path: Path) -> None:
    from benchmarks.run import cli

    eval_dir = tmp_path / "eval"
    write_beir(eval_dir / "cosqa")
    out = tmp_path / "results"
    code = cli(
        [
            "--quick",
            "--no-progress",
            "--eval-dir",
            str(eval_dir),
            "--output-dir",
            str(out),
            "--sections",
            "quality,latency,lsp,indexing",
            "--sizes",
            "300",
            "--latency-queries",
            "6",
            "--index-chunks",
            "20",
            "--pause-ms",
            "5",
        ]
    )
    assert code == 0
    # A partial run is named after its sections, so it never overwrites a full run.
    (path,) = out.glob("*-quick-quality-latency-lsp-indexing.json")
    result = json.loads(path.read_text())
    assert result["schema"] == "codequest-bench/1" and result["mode"] == "quick"
    assert {"sha", "short"} <= set(result["commit"])
    assert {"hostname", "cpu_model", "cpu_count", "cpu_bf16"} <= set(result["machine"])
    assert {"torch", "usearch", "onnxruntime"} <= set(result["versions"])
    assert "cpu_count" in result["threads"] and {"start", "end"} <= set(result["load"])
    assert any("hashing" in note for note in result["notes"])

    beir = result["quality"]["beir"]
    assert {r["config"] for r in beir} == {"bm25", "dense:hashing", "hybrid:hashing"}
    for row in beir:
        assert {"mrr@10", "ndcg@10", "recall@1", "recall@5", "recall@10"} <= set(row)
        assert Path(row["per_query_file"]).is_file()

    lat = result["latency"]
    assert lat["encode"]["n"] == 6
    (size,) = lat["sizes"]
    assert size["chunks"] == 300 and size["recall@10"] == 1.0
    assert size["vector_search_mode"] == "exact"
    assert {"p50_ms", "p95_ms", "p99_ms"} <= set(size["search"])
    (row,) = lat["lsp"]
    assert row["chunks"] == 300 and "recall@10" in row
    if server_available() is None:  # the server must serve the prebuilt store it is given
        assert row["status"] == "ok", row
        assert row["server_status"]["chunks"] == 300 and row["p50_ms"] > 0
        # The paced pass: every query again, each after a 5 ms pause.
        assert row["after_pause"]["pause_ms"] == 5 and row["after_pause"]["n"] == 6
        assert row["after_pause"]["p50_ms"] > 0
        # The machine's speed beside it: the query encoder, warm, before and after.
        assert set(row["reference_encode_p50_ms"]) == {"before", "after"}
        assert all(v > 0 for v in row["reference_encode_p50_ms"].values())
    else:
        assert row["status"] == "unavailable"

    sub = result["indexing"]["subset"]
    assert sub["cold"]["chunks"] > 0 and sub["one_file_edit"]["found"] is True
    assert {"chunking", "embedding", "writing"} <= set(sub["cold"]["timings"])
    assert sub["memory"]["peak_rss_mb"] > 0
    assert isinstance(result["targets"], list)
    for plot in result.get("plots", []):
        assert (out / plot).is_file()


class _CardEncoder:
    """A query encoder with a card, like an ONNX export; vectors from a seeded hash."""

    def __init__(self, card: dict[str, str]) -> None:
        self.card = card
        self.name = card["name"]
        self.teacher_identity = "fake@0"

    def encode_query(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(sum(map(ord, text)))
        return rng.standard_normal(4).astype(np.float32)


def test_ranking_query_cache_is_keyed_by_encoder(tmp_path: Path) -> None:
    from benchmarks.ranking import CachedQueries, query_cache_key

    tensor = _CardEncoder({"name": "teacher-onnx-int8", "precision": "int8"})
    channel = _CardEncoder({"name": "teacher-onnx-int8", "quantization": "per channel"})
    key = query_cache_key(tensor)
    assert key.startswith("teacher-onnx-int8-") and key == query_cache_key(tensor)
    assert key != query_cache_key(channel) != query_cache_key(HashingEncoder())

    first = CachedQueries(tensor, tmp_path / f"queries-set-{key}.npy")
    vec = first.encode_query("read a file")
    first.save()
    reloaded = CachedQueries(tensor, tmp_path / f"queries-set-{key}.npy")
    assert np.array_equal(reloaded.vectors["read a file"], vec)
    other = CachedQueries(channel, tmp_path / f"queries-set-{query_cache_key(channel)}.npy")
    assert other.vectors == {}  # another encoder never reads the first one's vectors


def test_ranking_query_encoder_option_defaults_to_config() -> None:
    from benchmarks.ranking import build_parser

    from codequest.config import Config

    assert build_parser().parse_args([]).query_encoder == Config().query_encoder
    args = build_parser().parse_args(["--query-encoder", "lora32-keep025-cos"])
    assert args.query_encoder == "lora32-keep025-cos"


def test_lsp_ab_times_each_tree_on_the_same_folder(make_project, tmp_path: Path) -> None:
    """benchmarks.lsp_ab: one real server per source tree, queries taken in turns."""
    from benchmarks import lsp_ab

    repo = Path(__file__).resolve().parent.parent
    folder = make_project()
    queries = ["parse the config file", "email address", "hash a file", "load json"]
    settings = {"model": "hashing", "cacheDir": str(tmp_path / "index")}
    rows = lsp_ab.run(
        [repo, repo],
        [folder, folder],
        [settings, settings],
        queries,
        rounds=2,
        block=3,
        warmup=2,
    )
    assert [row["tree"] for row in rows] == [str(repo), str(repo)]
    for row in rows:
        assert row["n"] == len(queries) * 2
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["max_ms"]
    # One tree compares nothing; a tree without the server package is refused clearly.
    with pytest.raises(SystemExit):
        lsp_ab.main([str(repo), "--folder", str(folder)])
    assert lsp_ab.main([str(repo), str(tmp_path), "--folder", str(folder)]) == 1
    # --folder is given once or once per tree.
    with pytest.raises(SystemExit):
        lsp_ab.main([str(repo), str(repo), *["--folder", str(folder)] * 3])


def test_lsp_ab_takes_turns_and_reverses_the_order_every_block() -> None:
    from benchmarks import lsp_ab

    calls: list[tuple[str, str]] = []

    class Recording:
        def __init__(self, name: str) -> None:
            self.name = name

        def request(self, method: str, params: dict[str, object]) -> None:
            calls.append((self.name, str(params["query"])))

    clients = [Recording("a"), Recording("b")]
    timings = lsp_ab.interleaved(clients, ["q1", "q2", "q3"], rounds=2, block=2)  # type: ignore[arg-type]
    assert [len(t) for t in timings] == [6, 6]
    assert calls == [
        # round 1: block 1 a first, block 2 b first
        ("a", "q1"), ("a", "q2"), ("b", "q1"), ("b", "q2"), ("b", "q3"), ("a", "q3"),
        # round 2 starts the other way round
        ("b", "q1"), ("b", "q2"), ("a", "q1"), ("a", "q2"), ("a", "q3"), ("b", "q3"),
    ]  # fmt: skip


def test_distill_report_cuts_csn_sets_but_keeps_cosqa_whole(tmp_path: Path) -> None:
    from benchmarks.distill_report import load_sets

    write_beir(tmp_path / "cosqa")
    write_beir(tmp_path / "csn-maxmin-go")
    sets = load_sets(tmp_path, ["cosqa", "csn-maxmin-go"], max_queries=2)
    assert sets["cosqa"].query_ids == ["q1", "q2", "q3", "q4"]
    assert sets["csn-maxmin-go"].query_ids == ["q1", "q2"]
    assert sets["csn-maxmin-go"].query_texts == [QUERIES["q1"], QUERIES["q2"]]
    whole = load_sets(tmp_path, ["csn-maxmin-go"], max_queries=0)["csn-maxmin-go"]
    assert whole.query_ids == ["q1", "q2", "q3", "q4"]


def test_distill_report_merge_replaces_rows_and_keeps_hybrids_last(tmp_path: Path) -> None:
    from benchmarks.distill_report import merge_into

    def row(name: str, adaptation: str, ndcg: float) -> dict[str, object]:
        return {"name": name, "adaptation": adaptation, "metrics": {"cosqa": {"ndcg@10": ndcg}}}

    earlier = {
        "commit": "aaaa",
        "rows": [row("bm25", "lexical", 0.37), row("s1", "internal", 0.5), row("h", "hybrid", 0.6)],
    }
    path = tmp_path / "distill-aaaa.json"
    path.write_text(json.dumps(earlier))
    new = {"commit": "bbbb", "machine": {"slug": "m"}, "rows": [row("s1", "internal", 0.55)]}
    merged = merge_into(path, new)
    assert [(r["name"], r["metrics"]["cosqa"]["ndcg@10"]) for r in merged["rows"]] == [
        ("bm25", 0.37),
        ("s1", 0.55),
        ("h", 0.6),
    ]
    assert merged["commit"] == "aaaa"
    assert merged["merged_runs"] == [{"commit": "bbbb", "machine": {"slug": "m"}, "rows": ["s1"]}]


def test_soak_is_a_section_asked_for_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import benchmarks.soak
    from benchmarks.run import DEFAULT_SECTIONS, cli

    calls: list[dict[str, object]] = []

    def fake_soak(**kwargs: object) -> dict[str, object]:
        calls.append(kwargs)
        return {
            "target": "lsp",
            "requests": 400,
            "answered": 400,
            "bursts": 7,
            "burst_size": 32,
            "file_changes": 5,
            "errors": 0,
            "stale_results": 0,
            "invalid_requests_refused": 4,
            "invalid_requests": 4,
            "latency": {"p50_ms": 1.5, "p99_ms": 9.0},
            "throughput_rps": 250.0,
            "rss_mb": {"start": 100.0, "end": 101.0, "peak": 102.0},
        }

    monkeypatch.setattr(benchmarks.soak, "run_soak", fake_soak)
    out = tmp_path / "results"
    args = ["--quick", "--no-progress", "--no-plots", "--output-dir", str(out), "--sections"]
    assert cli([*args, "soak"]) == 0
    assert calls == [{"target": "lsp", "requests": 400, "files": 200}]
    (path,) = out.glob("*-quick-soak.json")
    assert json.loads(path.read_text())["soak"]["answered"] == 400
    printed = capsys.readouterr().out
    assert "Soak (lsp): 400/400 searches answered in 7 bursts" in printed
    assert "invalid requests refused 4/4" in printed
    # The default run leaves the soak out; an unknown section is refused with the choices.
    assert "soak" not in DEFAULT_SECTIONS
    assert cli([*args, "quality,nap"]) == 2
    assert "unknown sections ['nap']" in capsys.readouterr().err


# -- codequest bench, from a clone and from an installed wheel --------------------------------
def test_codequest_bench_finds_the_clones_benchmarks() -> None:
    import benchmarks.run

    from codequest import bench_cli

    assert bench_cli._benchmarks_run() is benchmarks.run


def test_codequest_bench_without_benchmarks_says_where_they_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from codequest import bench_cli, cli

    monkeypatch.setattr(bench_cli, "_benchmarks_run", lambda: None)
    for argv in (["bench"], ["bench", "--quick", "--sections", "latency"], ["bench", "-h"]):
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.err == bench_cli.NOT_IN_CLONE + "\n" and captured.out == ""


def test_an_installed_copy_without_benchmarks_exits_2_with_one_line(tmp_path: Path) -> None:
    """The wheel's layout: site-packages/codequest and no benchmarks package anywhere."""
    import shutil

    import codequest

    site = tmp_path / "site"
    shutil.copytree(
        Path(codequest.__file__).parent,
        site / "codequest",
        ignore=shutil.ignore_patterns("__pycache__", "data"),
    )
    script = (
        "import sys\n"
        # An editable install of a checkout may map 'benchmarks' for the whole venv.
        "sys.meta_path[:] = [f for f in sys.meta_path\n"
        "                    if '__editable__' not in getattr(f, '__module__', '')]\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "from codequest.cli import main\n"
        "raise SystemExit(main(['bench', '--quick']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "codequest bench: the benchmarks run from a clone of the repository: "
        "python -m benchmarks [--quick] (in the clone's root)"
    ]


def test_edits_section_times_edits_over_the_lsp_and_reports_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks.edits against the real server (hashing) on a small generated repository;
    ``--sections edits`` is asked for by name and rendered with its targets."""
    from benchmarks.run import DEFAULT_SECTIONS, cli

    body = (
        "def handler_{0}(request):\n    return request.value + {0}\n\n\nclass Model{0}:\n    pass\n"
    )
    files = {f"pkg/handler_{i:03d}.py": body.format(i) for i in range(30)}
    repo = helpers.write_tree(tmp_path / "repo", {**files, "docs/notes.md": "# notes\n"})
    out = tmp_path / "results"
    args = ["--quick", "--no-progress", "--no-plots", "--output-dir", str(out)]
    assert cli([*args, "--sections", "edits", "--edits-repo", str(repo)]) == 0
    assert "edits" not in DEFAULT_SECTIONS
    (path,) = out.glob("*-quick-edits.json")
    edits = json.loads(path.read_text())["edits"]
    assert edits["status"] == "ok" and edits["repo"] == "repo"
    (tree,) = edits["trees"]
    assert tree["status"] == "ok", tree
    # Each small handler file is one chunk (its function and class packed), plus the notes.
    assert tree["full_index"]["chunks"] == 31 and tree["full_index"]["server"]["rss_mb"] > 0
    assert tree["full_index"]["server"]["torch_mapped"] is False
    timed = tree["edit_to_searchable"]
    assert len(timed["edits"]) == 3 and len(timed["later_edits_s"]) == 2
    assert all(e["server_log"].startswith("CodeQuest: indexed repo:") for e in timed["edits"])
    assert (repo / "pkg").is_dir() and not list(repo.rglob("*Cqprobe*"))  # a copy was edited
    printed = capsys.readouterr().out
    assert "Edits over the LSP on repo" in printed
    assert "first edit after start to searchable s (repo, " in printed
