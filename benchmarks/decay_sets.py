"""The per-file decay on the two sets that disagree about it: realrepos-dev and stdlib-bench.

``python -m benchmarks.decay_sets [--json FILE]``

Each query's candidates are gathered once with the shipped options, as
``benchmarks.realrepos_cv`` gathers them; then, for every decay, they are scored
(``scoring.weighted``) and the page picked (``results.collect``) as ``Searcher.search``
does. Only the decay differs between the rows. Beside them, the shape of each set's
targets: how many queries have two or more targets in one file (a page holding one result
a file cannot reach both), and the NDCG@10 that one result a file could reach at best.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, bench_cache, git_info
from benchmarks.encoders import query_encoder
from benchmarks.memstore import FixedQueryEncoder
from benchmarks.quality import encode_queries, wrap_cache
from benchmarks.realrepos import K, default_checkouts, load_set, set_dir
from benchmarks.realrepos_cv import Prepared, gather, page
from benchmarks.realrepos_search import SearchRun, open_workspace
from benchmarks.stdlib_bench import load_annotations, materialize, ndcg
from codequest.config import Config
from codequest.encoders import load_document_encoder
from codequest.metrics import ndcg_locations
from codequest.search.options import RankingOptions
from codequest.search.results import collect
from codequest.search.scoring import weighted
from codequest.workspace import Workspace

DECAYS = (0.3, 0.5, 0.7, 0.85, 1.0)
MODEL = "all-MiniLM-L6-v2"

# query -> NDCG@10 of a page picked with the given options
Scorer = Callable[[RankingOptions], tuple[dict[str, list[float]], list[float]]]


def ideal_dcg(n: int) -> float:
    return sum(1 / math.log2(i + 2) for i in range(min(K, n)))


def target_shape(target_files: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Queries with two or more targets in one file, and the best NDCG@10 of a page that
    holds one result a file (each distinct target file found at the top)."""
    several = sum(1 for files in target_files if max(Counter(files).values(), default=0) > 1)
    ceiling = [ideal_dcg(len(set(files))) / ideal_dcg(len(files)) for files in target_files]
    return {
        "queries": len(target_files),
        "two_or_more_targets_in_one_file": several,
        "ceiling_one_result_a_file": round(statistics.fmean(ceiling), 4),
    }


def realrepos(log: Callable[[str], None]) -> tuple[Scorer, dict[str, Any]]:
    search = SearchRun(MODEL, progress=False)
    checkouts = default_checkouts()
    base = RankingOptions()
    data: list[Prepared] = []
    for repo in load_set(set_dir()):
        if not repo.bench_dir(checkouts).is_dir():
            continue
        ws, _ = open_workspace(search, repo, checkouts)
        try:
            searcher = ws.searcher()
            data.append(Prepared(repo, searcher.snapshot(), gather(searcher, repo, base), {}))
        finally:
            ws.close()
        log(f"decay_sets: realrepos {repo.name} gathered")

    def score(options: RankingOptions) -> tuple[dict[str, list[float]], list[float]]:
        by_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for prepared in data:
            for item in prepared.queries:
                value = ndcg_locations(page(prepared, item, options), item.query.targets, K)
                by_category[item.query.category][prepared.repo.name].append(value)
        per_repo: dict[str, list[float]] = defaultdict(list)
        categories = {}
        for category, repos in by_category.items():
            categories[category] = [statistics.fmean(v) for v in repos.values()]
            for name, values in repos.items():
                per_repo[name].extend(values)
        # semble's figure: the mean over repositories; a category's, over the repositories
        # that have it.
        return categories, [statistics.fmean(v) for v in per_repo.values()]

    shape = target_shape([[t[0] for t in item.query.targets] for p in data for item in p.queries])
    return score, shape


def stdlib(log: Callable[[str], None]) -> tuple[Scorer, dict[str, Any]]:
    annotations = load_annotations()
    corpus = materialize()
    config = Config(model=MODEL, cache_dir=str(bench_cache() / "decay-sets-stdlib"))
    documents = wrap_cache(load_document_encoder(config))
    Workspace(corpus, config, document_encoder=documents).index()
    texts = [a["query"] for a in annotations]
    vectors, _ = encode_queries(
        query_encoder(MODEL, "auto", documents.identity), texts, label="stdlib", progress=False
    )
    ws = Workspace(
        corpus,
        config,
        document_encoder=documents,
        query_encoder=FixedQueryEncoder(vectors, documents.identity),
    )
    searcher = ws.searcher()
    snap = searcher.snapshot()
    base = RankingOptions()
    gathered = []
    for a in annotations:
        plan = searcher.plan(a["query"], limit=K, options=base)
        parsed, candidates = searcher.weighted_candidates(plan)
        targets = [*a.get("relevant", []), *a.get("secondary", [])]
        gathered.append((a["category"], plan, parsed, candidates, targets))
    log("decay_sets: stdlib-bench gathered")

    def score(options: RankingOptions) -> tuple[dict[str, list[float]], list[float]]:
        categories: dict[str, list[float]] = defaultdict(list)
        for category, plan, parsed, candidates, targets in gathered:
            plan = dataclasses.replace(plan, options=options)
            results = collect(snap, parsed, plan, weighted(snap, plan, candidates))
            spans = [f"{r.path}:{r.start_line}-{r.end_line}" for r in results]
            categories[category].append(ndcg(spans, targets))
        return categories, [v for values in categories.values() for v in values]

    shape = target_shape(
        [[t if isinstance(t, str) else t["path"] for t in item[4]] for item in gathered]
    )
    return score, shape


def run(log: Callable[[str], None]) -> dict[str, Any]:
    sets = {"realrepos-dev": realrepos(log), "stdlib-bench": stdlib(log)}
    rows = []
    for decay in DECAYS:
        options = dataclasses.replace(RankingOptions(), decay=decay)
        row: dict[str, Any] = {"decay": decay}
        for name, (score, _) in sets.items():
            categories, means = score(options)
            row[name] = {
                "mean": round(statistics.fmean(means), 4),
                "by_category": {c: round(statistics.fmean(v), 4) for c, v in categories.items()},
            }
        rows.append(row)
        log(f"decay_sets: decay {decay}: " + json.dumps({k: row[k]["mean"] for k in sets}))
    return {
        "commit": git_info()["short"],
        "shipped_decay": RankingOptions().decay,
        "targets": {name: shape for name, (_, shape) in sets.items()},
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "decay-sets.json")
    args = parser.parse_args(argv)
    result = run(lambda line: print(line, file=sys.stderr, flush=True))
    args.json.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for name, shape in result["targets"].items():
        print(f"{name}: {json.dumps(shape)}")
    for row in result["rows"]:
        print(
            f"decay {row['decay']:<5}"
            + "".join(
                f"  {name} {row[name]['mean']:.4f} ("
                + ", ".join(f"{c} {v:.3f}" for c, v in sorted(row[name]["by_category"].items()))
                + ")"
                for name in result["targets"]
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
