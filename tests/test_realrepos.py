"""The real-repository benchmark (``codequest bench --sections realrepos``) on a tiny set.

Two one-function git repositories stand in for the 32 real ones: each indexes to a single
chunk, so every search returns it first whatever the ranking, and every score below is
worked out by hand from the annotations. A third repository has no checkout and is
skipped. The hashing encoder keeps it offline and fast.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmarks.common import eval_root
from benchmarks.lsp_bench import server_available
from benchmarks.realrepos import load_set, parse_location

import helpers

REAL_TOOLS = eval_root() / "realrepos-dev" / "tools"
HAS_BM25S = importlib.util.find_spec("bm25s") is not None
A = 1 / (1 + 1 / math.log2(3))  # one of two targets found at rank 1
R2 = 1 / math.log2(3)  # the only target found at rank 2

ALPHA_FILES = {
    "src/pkg/util.py": """\
        def parse_header(line):
            name, _, value = line.partition(":")
            return name.strip().lower(), value.strip()
        """,
    "docs/example.py": "def example():\n    return 1\n",  # outside benchmark_root
}
BETA_FILES = {
    "lib/tool.sh": """\
        print_usage() {
          echo "usage: tool [options]"
        }
        """,
}
ALPHA_QUERIES = [
    # no category: a query without a space is a symbol query
    {"query": "parse_header", "relevant": ["src/pkg/util.py"], "secondary": []},
    {
        "query": "split a header line into name and value",
        "relevant": [{"path": "src/pkg/util.py", "start_line": 2, "end_line": 3}],
        "secondary": [],
        "category": "semantic",
    },
    {
        "query": "how are headers parsed",
        "relevant": [{"path": "src/pkg/util.py", "start_line": 40, "end_line": 50}],
        "secondary": ["src/pkg/missing.py"],
        "category": "architecture",
    },
    {
        "query": "header parsing and docs",
        "relevant": ["src/pkg/util.py"],
        "secondary": ["docs/example.py"],
        "category": "semantic",
    },
    # BM25 knows none of these words; CodeQuest still returns the only chunk
    {"query": "parsing headers", "relevant": ["src/pkg/util.py"], "category": "semantic"},
]
BETA_QUERIES = [
    {"query": "print_usage", "relevant": ["lib/tool.sh"], "category": "symbol"},
    {"query": "show usage text", "relevant": ["tool.sh"], "category": "semantic"},
    # no category: "how ..." is an architecture query
    {"query": "how is the usage printed", "relevant": ["lib/other.sh"], "secondary": []},
]
# By hand: CodeQuest returns each repository's one chunk first for every query.
CQ = {"alpha": [1, 1, 0, A, 1], "beta": [1, 1, 0]}
# BM25 returns the window only when a query word is in the repository's vocabulary.
BM25 = {"alpha": [1, 1, 0, A, 0], "beta": [1, 1, 0]}
# The semble run: util.py:1-3 for alpha's first four queries, nothing for the last;
# tool.sh then other.sh for every beta query.
SEMBLE = {"alpha": [1, 1, 0, A, 0], "beta": [1, 1, R2]}
SEMBLE_TOPS = {
    "alpha": [["src/pkg/util.py:1-3"]] * 4 + [[]],
    "beta": [["lib/tool.sh:1-3", "lib/other.sh:1-5"]] * 3,
}
CATEGORIES = {
    "alpha": ["symbol", "semantic", "architecture", "semantic", "semantic"],
    "beta": ["symbol", "semantic", "architecture"],
}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _by_category(name: str, scores: list[float]) -> dict[str, float]:
    cats: dict[str, list[float]] = {}
    for category, score in zip(CATEGORIES[name], scores, strict=True):
        cats.setdefault(category, []).append(score)
    return {c: _mean(v) for c, v in cats.items()}


def _git_repo(root: Path, files: dict[str, str]) -> str:
    helpers.write_tree(root, files)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pinned"], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _write_semble_run(path: Path) -> None:
    per_repo = []
    for name, language in (("alpha", "python"), ("beta", "bash")):
        queries = ALPHA_QUERIES if name == "alpha" else BETA_QUERIES
        per_query = [
            {"query": q["query"], "category": c, "ndcg10": s, "top": top}
            for q, c, s, top in zip(
                queries, CATEGORIES[name], SEMBLE[name], SEMBLE_TOPS[name], strict=True
            )
        ]
        per_repo.append(
            {
                "repo": name,
                "language": language,
                "ndcg10": _mean(SEMBLE[name]),
                "by_category": _by_category(name, SEMBLE[name]),
                "median_ms": 1.5,
                "per_query": per_query,
            }
        )
    path.write_text(json.dumps({"per_repo": per_repo, "config": {"batch_cmd": "fake"}}))


@pytest.fixture
def tiny_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """``<eval>/realrepos-dev`` with alpha, beta (checked out) and gamma (not)."""
    eval_dir, checkouts = tmp_path / "eval", tmp_path / "checkouts"
    folder = eval_dir / "realrepos-dev"
    (folder / "annotations").mkdir(parents=True)
    alpha = _git_repo(checkouts / "alpha", ALPHA_FILES)
    beta = _git_repo(checkouts / "beta", BETA_FILES)
    specs = [
        ("alpha", "python", alpha, "src", ALPHA_QUERIES, {"semble": 0.8, "bm25": 0.5}),
        ("beta", "bash", beta, None, BETA_QUERIES, {"semble": 0.9, "bm25": 0.7}),
        ("gamma", "python", "0" * 40, "src", ALPHA_QUERIES[:1], {"semble": 0.1}),
    ]
    repos = []
    for name, language, revision, root, queries, published in specs:
        (folder / "annotations" / f"{name}.json").write_text(json.dumps(queries))
        repos.append(
            {
                "name": name,
                "language": language,
                "revision": revision,
                "benchmark_root": root,
                "annotations": f"annotations/{name}.json",
                "published": published,
            }
        )
    (folder / "repos.json").write_text(json.dumps(repos))
    semble = tmp_path / "semble.json"
    _write_semble_run(semble)
    monkeypatch.setenv("CODEQUEST_EVAL", str(eval_dir))  # restored after the test
    return {"eval": eval_dir, "set": folder, "checkouts": checkouts, "semble": semble}


def _run(tiny_set: dict[str, Path], out: Path, *extra: str) -> dict[str, Any]:
    from benchmarks.run import cli

    args = ["--quick", "--no-progress", "--sections", "realrepos", "--output-dir", str(out)]
    args += ["--eval-dir", str(tiny_set["eval"])]
    args += ["--realrepos-checkouts", str(tiny_set["checkouts"])]
    args += ["--semble-run", str(tiny_set["semble"]), *extra]
    assert cli(args) == 0
    (path,) = out.glob("*-quick-realrepos.json")
    section: dict[str, Any] = json.loads(path.read_text())["realrepos"]
    section["_path"] = str(path)
    return section


def test_the_section_scores_every_repository_as_worked_out_by_hand(
    tiny_set: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    section = _run(tiny_set, tmp_path / "results")
    assert section["status"] == "ok"
    # gamma has no checkout: one line, no traceback, and it is left out of every mean.
    err = capsys.readouterr().err
    assert "realrepos: skipping gamma: no checkout at" in err and "Traceback" not in err
    assert section["skipped"][0]["name"] == "gamma"

    rows = {r["name"]: r for r in section["repos"]}
    assert set(rows) == {"alpha", "beta"}
    for name in ("alpha", "beta"):
        row = rows[name]
        assert row["ndcg10"]["codequest"] == pytest.approx(_mean(CQ[name]))
        assert row["by_category"]["codequest"] == pytest.approx(_by_category(name, CQ[name]))
        assert row["ndcg10"]["semble_here"] == pytest.approx(_mean(SEMBLE[name]))
        assert row["chunks"] == 1 and row["index_s"] >= 0 and row["query_p50_ms"] > 0
        if HAS_BM25S:
            assert row["ndcg10"]["bm25"] == pytest.approx(_mean(BM25[name]))
        else:
            assert row["ndcg10"]["bm25"] is None
    assert rows["alpha"]["ndcg10"]["semble_published"] == 0.8
    assert rows["beta"]["ndcg10"]["bm25_published"] == 0.7

    summary = section["summary"]
    assert summary["repos"] == 2 and summary["queries"] == 8
    cq_alpha, cq_beta = _mean(CQ["alpha"]), _mean(CQ["beta"])
    assert summary["mean"]["codequest"] == pytest.approx((cq_alpha + cq_beta) / 2)
    assert summary["mean"]["semble_published"] == pytest.approx(0.85)  # gamma's 0.1 left out
    assert summary["by_language"]["python"]["codequest"] == pytest.approx(cq_alpha)
    assert summary["by_language"]["bash"]["codequest"] == pytest.approx(cq_beta)
    # A category's mean is over the repositories' own category means.
    by_category = summary["by_category"]
    assert by_category["symbol"]["codequest"] == 1.0
    assert by_category["semantic"]["codequest"] == pytest.approx(((1 + A + 1) / 3 + 1) / 2)
    assert by_category["architecture"]["codequest"] == 0.0
    assert by_category["architecture"]["semble_here"] == pytest.approx(R2 / 2)
    # alpha is above semble here, beta more than 0.02 below it.
    assert summary["within_of_semble_here"] == {
        "margin": 0.02,
        "count": 1,
        "of": 2,
        "below": ["beta"],
    }
    if not HAS_BM25S:
        assert "pip install bm25s" in section["comparisons"]["bm25"]["status"]

    # Every query's top 10 in a JSONL beside the results, and the plot.
    lines = Path(section["per_query_file"]).read_text().splitlines()
    first = json.loads(lines[0])
    assert first["repo"] == "alpha" and first["codequest"]["top"] == ["src/pkg/util.py:1-3"]
    assert len(lines) == 8
    results = Path(section["_path"])
    assert any(p.suffix == ".png" for p in results.parent.iterdir())

    # A second run reuses the index and reports the seconds of the build.
    again = _run(tiny_set, tmp_path / "again")
    alpha = next(r for r in again["repos"] if r["name"] == "alpha")
    assert alpha["index_reused"] is True and alpha["index_s"] == rows["alpha"]["index_s"]
    assert alpha["ndcg10"] == rows["alpha"]["ndcg10"]


def test_an_unknown_repository_is_refused_with_the_names(
    tiny_set: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.run import cli

    args = ["--quick", "--no-progress", "--sections", "realrepos", "--repos", "alpha,delta"]
    assert cli([*args, "--output-dir", str(tmp_path / "out")]) == 2
    assert "unknown repositories ['delta']" in capsys.readouterr().err


def test_the_set_loader_reads_spans_categories_and_published_figures(
    tiny_set: dict[str, Path],
) -> None:
    alpha, beta, gamma = load_set(tiny_set["set"])
    assert alpha.benchmark_root == "src" and beta.benchmark_root is None
    assert [q.category for q in alpha.queries] == CATEGORIES["alpha"]
    assert [q.category for q in beta.queries] == CATEGORIES["beta"]
    assert alpha.queries[2].targets == (
        ("src/pkg/util.py", 40, 50),
        ("src/pkg/missing.py", None, None),
    )
    assert gamma.published == {"semble": 0.1}
    assert alpha.repo_path("pkg/util.py") == "src/pkg/util.py"
    assert beta.repo_path("lib/tool.sh") == "lib/tool.sh"
    assert parse_location("a/b.py:3-9") == ("a/b.py", 3, 9)
    assert parse_location("a/b.py:7") == ("a/b.py", 7, 7)
    assert parse_location("c:/x/b.py") == ("c:/x/b.py", None, None)


@pytest.mark.skipif(server_available() is not None, reason="the language server cannot run here")
def test_through_the_language_server_the_scores_are_the_same(
    tiny_set: dict[str, Path], tmp_path: Path
) -> None:
    in_process = _run(tiny_set, tmp_path / "inprocess", "--no-bm25")
    via_lsp = _run(tiny_set, tmp_path / "lsp", "--no-bm25", "--realrepos-via", "lsp")
    assert via_lsp["settings"]["via"] == "lsp"
    assert via_lsp["settings"]["engine"]["query_encoder"]  # as codequest.status names it
    for a, b in zip(in_process["repos"], via_lsp["repos"], strict=True):
        assert a["ndcg10"]["codequest"] == b["ndcg10"]["codequest"]
        assert a["by_category"] == b["by_category"]
        assert b["index_reused"] is True  # the server serves the index built in process


@pytest.mark.skipif(not (REAL_TOOLS / "eval.py").is_file(), reason="the shared set is not here")
def test_the_sets_eval_py_scores_a_replayed_run_the_same(
    tiny_set: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.realrepos_agree import main

    # eval.py reads the set it sits in: a copy of it in the tiny set scores the tiny set.
    shutil.copytree(REAL_TOOLS, tiny_set["set"] / "tools")
    section = _run(tiny_set, tmp_path / "results")
    argv = [section["_path"], "--semble-run", str(tiny_set["semble"])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "identical yes" in out and "8 queries re-scored with ndcg_locations, 0 differ" in out


@pytest.mark.skipif(
    not (HAS_BM25S and (REAL_TOOLS / "eval.py").is_file()),
    reason="needs bm25s and the shared set's eval.py",
)
def test_the_bm25_port_ranks_as_eval_py_does(tmp_path: Path) -> None:
    from benchmarks.realrepos_bm25 import BM25Windows

    sys.path.insert(0, str(REAL_TOOLS))
    try:
        spec = importlib.util.spec_from_file_location("realrepos_eval", REAL_TOOLS / "eval.py")
        assert spec is not None and spec.loader is not None
        reference = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = reference
        spec.loader.exec_module(reference)
    finally:
        sys.path.remove(str(REAL_TOOLS))
    # Files of 1 to 140 lines (one to three windows) over a small vocabulary.
    rng = random.Random(1234)
    words = ["parseHeader", "read_file", "HTTPClient", "retry", "token", "cache", "x2", "id"]
    files = {}
    for i in range(6):
        lines = [
            " ".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(rng.randint(1, 140))
        ]
        files[f"pkg/mod{i}/file{i}.py"] = "\n".join(lines) + "\n"
    files["pkg/notes.txt"] = "retry cache\n"  # not a code file
    _git_repo(tmp_path / "repo", files)
    ours = BM25Windows(tmp_path / "repo", "pkg")
    theirs = reference.BM25Baseline()
    theirs.index(reference.Repo("repo", "python", "x", "pkg", tmp_path / "repo"))
    assert len(ours.windows) == theirs.size()
    for query in ["parse header", "http client retry", "read file cache token", "nothing", "id"]:
        expected = [(h.path, h.start, h.end) for h in theirs.search(query, 10)]
        assert ours.search(query, 10) == expected, query


def test_cross_validation_picks_each_fold_on_the_other_repositories():
    """realrepos_cv: per class, the grid point with the best weighted sum on the training
    repositories; the held-out repository is scored with its fold's pick."""
    import numpy as np
    from benchmarks.realrepos_cv import DECAYS, GRIDS, Table, choose, scored

    from codequest.search.options import QueryClass

    # Three repositories of two natural-language queries each; the other classes have none.
    repo_of = np.array([0, 0, 1, 1, 2, 2])
    weight = np.full(6, 0.5)
    scores = {}
    for decay in DECAYS:
        for cls, grid in GRIDS.items():
            for gi in range(len(grid)):
                column = np.full(6, np.nan)
                if cls is QueryClass.NATURAL and decay == DECAYS[0]:
                    # Point 1 is best on repositories 1 and 2, point 0 on repository 0.
                    column[:] = 0.1
                    if gi == 0:
                        column[:2] = 0.9
                    if gi == 1:
                        column[2:] = 0.8
                elif cls is QueryClass.NATURAL:
                    column[:] = 0.0
                scores[(decay, cls, gi)] = column
    table = Table(repo_of, weight, scores)
    everything = np.ones(6, dtype=bool)
    decay, picks = choose(table, everything)
    assert decay == DECAYS[0] and picks[QueryClass.NATURAL] == 1  # 1.7 against 1.1
    fold = choose(table, repo_of != 0)
    assert fold[1][QueryClass.NATURAL] == 1
    held = scored(table, fold, repo_of == 0)
    assert held[:2].tolist() == [0.1, 0.1] and np.isnan(held[2:]).all()
    fold = choose(table, repo_of != 1)
    assert fold[1][QueryClass.NATURAL] == 0  # repository 0's 0.9s outweigh repository 2's
