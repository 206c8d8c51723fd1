"""realrepos: semble's code-search annotations over 32 pinned real repositories.

The set (``<eval root>/realrepos-dev``: ``repos.json``, ``annotations/``, ``tools/``) and
its checkouts (``tools/checkout.sh``; ``$REALREPOS_CHECKOUTS`` or
``~/.cache/codequest-realrepos``) are inputs. For every repository with a checkout,
CodeQuest indexes ``benchmark_root`` with the shipped defaults and answers each query
(top 10) in process through ``Workspace.search``, or through a real ``codequest serve``
(:mod:`benchmarks.realrepos_search`). Each query is scored with semble's NDCG@10
(:func:`codequest.metrics.ndcg_locations`); a repository's score is the mean over its
queries and the headline the mean over repositories, semble's convention.

Beside CodeQuest, in the same report: raw BM25, the set's own baseline
(:mod:`benchmarks.realrepos_bm25`); semble run here on the same checkouts (a results file
of ``tools/eval.py --out``, by default the committed
``results/realrepos-semble-0.7.0-m2v-minilm.json``); and semble's published
per-repository figures from ``repos.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, eval_root
from codequest.errors import CodeQuestError
from codequest.metrics import Location, ndcg_locations

K = 10
SET_NAME = "realrepos-dev"
SEMBLE_REFERENCE = RESULTS_DIR / "realrepos-semble-0.7.0-m2v-minilm.json"
# The systems of the report, in the order of its columns.
CODEQUEST, BM25, SEMBLE_HERE = "codequest", "bm25", "semble_here"
SEMBLE_PUBLISHED, BM25_PUBLISHED = "semble_published", "bm25_published"
SYSTEMS = (CODEQUEST, BM25, SEMBLE_HERE, SEMBLE_PUBLISHED, BM25_PUBLISHED)
WITHIN = 0.02  # "on par with semble run here": at most this far below it


def set_dir() -> Path:
    return eval_root() / SET_NAME


def default_checkouts() -> Path:
    """Where ``tools/checkout.sh`` puts the checkouts (the same rule as ``tools/eval.py``)."""
    env = os.environ.get("REALREPOS_CHECKOUTS")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "codequest-realrepos"


# -- the set ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Query:
    text: str
    category: str
    targets: tuple[Location, ...]  # repository-relative


@dataclass(frozen=True, slots=True)
class Repo:
    name: str
    language: str
    revision: str
    benchmark_root: str | None  # None: the whole repository
    queries: tuple[Query, ...]
    published: Mapping[str, float] = field(default_factory=dict)  # semble, bm25

    def bench_dir(self, checkouts: Path) -> Path:
        checkout = checkouts / self.name
        return checkout / self.benchmark_root if self.benchmark_root else checkout

    def repo_path(self, path: str) -> str:
        """A path relative to ``benchmark_root`` as a repository-relative one."""
        return f"{self.benchmark_root}/{path}" if self.benchmark_root else path


def infer_category(query: str) -> str:
    """semble's fallback for an annotation without a category."""
    if " " not in query.strip():
        return "symbol"
    return "architecture" if query.lower().startswith("how ") else "semantic"


def parse_target(raw: object) -> Location:
    if isinstance(raw, str):
        return (raw, None, None)
    if not isinstance(raw, dict) or "path" not in raw:
        raise ValueError(f"a target is a path or {{path, start_line, end_line}}, got {raw!r}")
    start, end = raw.get("start_line"), raw.get("end_line")
    return (
        str(raw["path"]),
        int(start) if start is not None else None,
        int(end) if end is not None else None,
    )


def load_set(folder: Path, names: Iterable[str] = ()) -> list[Repo]:
    """The repositories of ``repos.json`` (those named, if any) with their queries."""
    wanted = set(names)
    specs = json.loads((folder / "repos.json").read_text(encoding="utf-8"))
    unknown = wanted - {s["name"] for s in specs}
    if unknown:
        raise ValueError(f"unknown repositories {sorted(unknown)} in {folder / 'repos.json'}")
    repos = []
    for spec in specs:
        name = spec["name"]
        if wanted and name not in wanted:
            continue
        annotations = folder / (spec.get("annotations") or f"annotations/{name}.json")
        queries = []
        for item in json.loads(annotations.read_text(encoding="utf-8")):
            if item.get("repo", name) != name:
                continue
            category = item.get("category")
            targets = [*item.get("relevant", []), *item.get("secondary", [])]
            queries.append(
                Query(
                    item["query"],
                    category if isinstance(category, str) else infer_category(item["query"]),
                    tuple(parse_target(t) for t in targets),
                )
            )
        published = spec.get("published") or {}
        repos.append(
            Repo(
                name,
                spec["language"],
                spec["revision"],
                spec.get("benchmark_root") or None,
                tuple(queries),
                {k: float(published[k]) for k in ("semble", "bm25") if k in published},
            )
        )
    return repos


def checkout_problem(repo: Repo, checkouts: Path) -> str | None:
    """None when the pinned checkout is there, else one line saying what to run."""
    checkout = checkouts / repo.name
    hint = f"run tools/checkout.sh {repo.name} (in {set_dir()})"
    if not repo.bench_dir(checkouts).is_dir():
        return f"no checkout at {repo.bench_dir(checkouts)}: {hint}"
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"{checkout} is not a git checkout: {hint}"
    if head != repo.revision:
        return f"{checkout} is at {head[:12]}, not the pinned {repo.revision[:12]}: {hint} --force"
    return None


# -- scoring ---------------------------------------------------------------------------------
def format_location(location: Location) -> str:
    path, start, end = location
    return path if start is None else f"{path}:{start}-{end if end is not None else start}"


def parse_location(text: str) -> Location:
    """``path:start-end``, ``path:line`` or ``path`` (as ``tools/eval.py`` writes them)."""
    path, sep, span = text.rpartition(":")
    first, _, last = span.partition("-")
    if sep and first.isdigit() and (not last or last.isdigit()):
        return (path, int(first), int(last) if last else int(first))
    return (text, None, None)


def repo_scores(queries: Sequence[Query], scores: Sequence[float]) -> dict[str, Any]:
    """A repository's NDCG@10: the mean over its queries, and per category."""
    by_category: dict[str, list[float]] = defaultdict(list)
    for query, score in zip(queries, scores, strict=True):
        by_category[query.category].append(score)
    return {
        "ndcg10": statistics.fmean(scores) if scores else 0.0,
        "by_category": {c: statistics.fmean(v) for c, v in sorted(by_category.items())},
    }


def score_hits(repo: Repo, hits: Sequence[Sequence[Location]]) -> list[float]:
    return [ndcg_locations(h, q.targets, K) for q, h in zip(repo.queries, hits, strict=True)]


def load_eval_run(path: Path) -> dict[str, Any]:
    """A ``tools/eval.py --out`` file: per repository its NDCG@10, per category and per query."""
    data = json.loads(path.read_text(encoding="utf-8"))
    repos = {}
    for row in data.get("per_repo", []):
        repos[row["repo"]] = {
            "ndcg10": float(row["ndcg10"]),
            "by_category": {c: float(v) for c, v in row.get("by_category", {}).items()},
            "median_ms": row.get("median_ms"),
            "index_ms": row.get("index_ms"),
            "chunks": row.get("chunks"),
            "per_query": {q["query"]: float(q["ndcg10"]) for q in row.get("per_query", [])},
        }
    return {"path": str(path), "config": data.get("config", {}), "repos": repos}


# -- the summary -----------------------------------------------------------------------------
def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over repositories (the headline), per language and per category, as
    ``tools/eval.py``'s ``summarize``: a language's mean is over its repositories, a
    category's over the repositories' own category means. Every system over the same
    repositories (those CodeQuest ran)."""
    done = [r for r in rows if r.get("status") == "ok"]
    mean = {s: _mean(r["ndcg10"].get(s) for r in done) for s in SYSTEMS}
    counts = {s: sum(1 for r in done if r["ndcg10"].get(s) is not None) for s in SYSTEMS}
    languages = sorted({r["language"] for r in done})
    by_language = {
        lang: {s: _mean(r["ndcg10"].get(s) for r in done if r["language"] == lang) for s in SYSTEMS}
        for lang in languages
    }
    categories = sorted({c for r in done for c in r["by_category"].get(CODEQUEST, {})})
    by_category = {
        c: {
            s: _mean(r["by_category"].get(s, {}).get(c) for r in done)
            for s in (CODEQUEST, BM25, SEMBLE_HERE)
        }
        for c in categories
    }
    compared = [r for r in done if r["ndcg10"].get(SEMBLE_HERE) is not None]
    below = [
        r["name"]
        for r in compared
        if r["ndcg10"][CODEQUEST] < r["ndcg10"][SEMBLE_HERE] - WITHIN - 1e-12
    ]
    all_ms = [ms for r in done for ms in r.get("query_ms", [])]
    return {
        "repos": len(done),
        "queries": sum(r["queries"] for r in done),
        "mean": mean,
        "repos_per_system": counts,
        "codequest_mean_over_queries": _mean(s for r in done for s in r.get("scores", [])),
        "by_language": by_language,
        "by_category": by_category,
        "within_of_semble_here": {
            "margin": WITHIN,
            "count": len(compared) - len(below),
            "of": len(compared),
            "below": below,
        },
        "query_p50_ms": statistics.median(all_ms) if all_ms else None,
        "index_s_total": round(sum(r.get("index_s") or 0.0 for r in done), 1),
        "chunks_total": sum(r.get("chunks") or 0 for r in done),
    }


# -- the section -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Options:
    model: str
    checkouts: Path
    via: str = "inprocess"  # or "lsp"
    repos: tuple[str, ...] = ()
    semble_run: Path | None = SEMBLE_REFERENCE
    with_bm25: bool = True
    detail_dir: Path | None = None  # per-query JSONL and the eval.py replay files
    progress: bool = True


def run_realrepos(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the section; returns its part of the results JSON. Never raises for a missing
    checkout or a missing comparison: each is one line in the log and in the JSON."""
    from benchmarks.realrepos_search import SearchRun, run_repo

    folder = set_dir()
    if not (folder / "repos.json").is_file():
        return {"status": "unavailable", "reason": f"{folder / 'repos.json'} not found"}
    repos = load_set(folder, options.repos)
    semble = _semble_run(options.semble_run, log)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    bm25_problem: str | None = None if options.with_bm25 else "not asked for (--no-bm25)"
    search = SearchRun(options.model, via=options.via, progress=options.progress)
    per_query: list[dict[str, Any]] = []
    try:
        for repo in repos:
            problem = checkout_problem(repo, options.checkouts)
            if problem is not None:
                log(f"realrepos: skipping {repo.name}: {problem}")
                skipped.append({"name": repo.name, "reason": problem})
                continue
            try:
                row, queries, bm25_problem = _run_one(
                    repo, options, search, semble, bm25_problem, run_repo
                )
            except (CodeQuestError, OSError, RuntimeError) as err:  # LspError is one
                log(f"realrepos: {repo.name} failed: {err}")
                rows.append(
                    {
                        "name": repo.name,
                        "language": repo.language,
                        "status": "error",
                        "reason": str(err),
                    }
                )
                continue
            rows.append(row)
            per_query += queries
            if options.progress:
                log(_progress_line(row))
    finally:
        engine = search.describe()
        search.close()
    if options.detail_dir is not None:
        _write_details(options.detail_dir, repos, per_query)
    return {
        "status": "ok",
        "set": {
            "dir": str(folder),
            "repos": len(repos),
            "queries": sum(len(r.queries) for r in repos),
        },
        "settings": {
            "k": K,
            "model": options.model,
            "via": options.via,
            "checkouts": str(options.checkouts),
            "index_cache": str(search.cache_root),
            "engine": engine,
        },
        "comparisons": {
            BM25: {"status": "ok"} if bm25_problem is None else {"status": bm25_problem},
            SEMBLE_HERE: {k: v for k, v in semble.items() if k != "repos"},
            SEMBLE_PUBLISHED: "repos.json published.semble (semble's default configuration)",
            BM25_PUBLISHED: "repos.json published.bm25 (semble's unranked BM25)",
        },
        "repos": [{k: v for k, v in r.items() if k not in ("scores", "query_ms")} for r in rows],
        "skipped": skipped,
        "summary": summarize(rows),
        "per_query_file": str(options.detail_dir / "realrepos-per-query.jsonl")
        if options.detail_dir is not None
        else None,
    }


def _semble_run(path: Path | None, log: Callable[[str], None]) -> dict[str, Any]:
    if path is None:
        return {"status": "not asked for", "repos": {}}
    if not path.is_file():
        log(f"realrepos: no semble run at {path}; that column stays empty")
        return {"status": f"{path} not found", "repos": {}}
    return {"status": "ok", **load_eval_run(path)}


def _run_one(
    repo: Repo,
    options: Options,
    search: Any,
    semble: dict[str, Any],
    bm25_problem: str | None,
    run_repo: Callable[..., Any],
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """One repository: CodeQuest, BM25 and the comparisons, scored the same way."""
    from benchmarks.realrepos_bm25 import BM25Unavailable, BM25Windows

    cq = run_repo(search, repo, options.checkouts)
    scores = score_hits(repo, cq.hits)
    bm25_hits: list[list[Location]] | None = None
    if bm25_problem is None:
        try:
            bm25 = BM25Windows(options.checkouts / repo.name, repo.benchmark_root)
            bm25_hits = [bm25.search(q.text, K) for q in repo.queries]
        except BM25Unavailable as err:
            bm25_problem = str(err)
    here = semble["repos"].get(repo.name)
    ndcg: dict[str, float | None] = {s: None for s in SYSTEMS}
    by_category: dict[str, dict[str, float]] = {}
    ours = repo_scores(repo.queries, scores)
    ndcg[CODEQUEST], by_category[CODEQUEST] = ours["ndcg10"], ours["by_category"]
    bm25_scores = score_hits(repo, bm25_hits) if bm25_hits is not None else None
    if bm25_scores is not None:
        theirs = repo_scores(repo.queries, bm25_scores)
        ndcg[BM25], by_category[BM25] = theirs["ndcg10"], theirs["by_category"]
    if here is not None:
        ndcg[SEMBLE_HERE], by_category[SEMBLE_HERE] = here["ndcg10"], here["by_category"]
    ndcg[SEMBLE_PUBLISHED] = repo.published.get("semble")
    ndcg[BM25_PUBLISHED] = repo.published.get("bm25")
    row = {
        "name": repo.name,
        "language": repo.language,
        "revision": repo.revision,
        "benchmark_root": repo.benchmark_root,
        "status": "ok",
        "queries": len(repo.queries),
        "ndcg10": ndcg,
        "by_category": by_category,
        "query_p50_ms": round(statistics.median(cq.ms), 3) if cq.ms else None,
        "semble_here_query_p50_ms": here.get("median_ms") if here else None,
        **cq.index,
        "scores": scores,
        "query_ms": cq.ms,
    }
    queries = []
    for i, q in enumerate(repo.queries):
        record: dict[str, Any] = {
            "repo": repo.name,
            "query": q.text,
            "category": q.category,
            "targets": [format_location(t) for t in q.targets],
            CODEQUEST: {
                "ndcg10": scores[i],
                "ms": round(cq.ms[i], 3),
                "top": [format_location(h) for h in cq.hits[i]],
            },
        }
        if bm25_hits is not None and bm25_scores is not None:
            record[BM25] = {
                "ndcg10": bm25_scores[i],
                "top": [format_location(h) for h in bm25_hits[i]],
            }
        if here is not None and q.text in here["per_query"]:
            record[SEMBLE_HERE] = {"ndcg10": here["per_query"][q.text]}
        queries.append(record)
    return row, queries, bm25_problem


def _progress_line(row: dict[str, Any]) -> str:
    n = row["ndcg10"]

    def fmt(value: float | None) -> str:
        return "   -  " if value is None else f"{value:.4f}"

    return (
        f"  {row['name']:<20} {row['language']:<11} n={row['queries']:>3}  "
        f"codequest {fmt(n[CODEQUEST])}  bm25 {fmt(n[BM25])}  "
        f"semble-here {fmt(n[SEMBLE_HERE])}  published {fmt(n[SEMBLE_PUBLISHED])}  "
        f"p50 {row['query_p50_ms']} ms  index {row.get('index_s')} s  chunks {row.get('chunks')}"
    )


def _write_details(
    folder: Path, repos: Sequence[Repo], per_query: Sequence[dict[str, Any]]
) -> None:
    """Every query's top 10 (JSONL), and per repository a file in ``tools/eval.py``'s batch
    protocol, so ``benchmarks.realrepos_agree`` can score the same run with ``eval.py``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "realrepos-per-query.jsonl", "w", encoding="utf-8") as fh:
        for record in per_query:
            fh.write(json.dumps(record) + "\n")
    batch = folder / "eval-batch"
    batch.mkdir(exist_ok=True)
    roots = {r.name: r for r in repos}
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in per_query:
        by_repo[record["repo"]].append(record)
    for name, records in by_repo.items():
        root = roots[name].benchmark_root
        prefix = f"{root}/" if root else ""
        with open(batch / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for record in records:
                results = [r.removeprefix(prefix) for r in record[CODEQUEST]["top"]]
                line = {"query": record["query"], "results": results}
                fh.write(json.dumps({**line, "ms": record[CODEQUEST]["ms"]}) + "\n")
