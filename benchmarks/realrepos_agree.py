"""Score a realrepos run with the set's reference scorer too, and print both side by side.

``codequest bench --sections realrepos`` writes, beside its results JSON, every query's
top 10 in ``tools/eval.py``'s batch protocol (``<detail dir>/eval-batch/<repo>.jsonl``).
This replays those files through ``eval.py --batch-cmd "cat ..."``, so the same answers
are scored by ``eval.py``'s own code (its path resolution, its metric, its means), and
compares the result with the run's own numbers: per repository, the mean over
repositories, per category and per language. They must be identical.

It also re-scores a ``tools/eval.py --out`` file (the committed semble run, by default)
with :func:`codequest.metrics.ndcg_locations`, query by query.

    python -m benchmarks.realrepos_agree benchmarks/results/<stem>.json [--repo NAME ...]

Exit status 0 when everything agrees, 1 when something differs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.realrepos import (
    CODEQUEST,
    SEMBLE_REFERENCE,
    load_set,
    parse_location,
    set_dir,
)
from codequest.metrics import ndcg_locations


def eval_py_scores(
    batch_dir: Path, repos: list[str], checkouts: Path, python: str = sys.executable
) -> dict[str, Any]:
    """``tools/eval.py``'s summary of the replayed run (its ``--out`` JSON)."""
    script = set_dir() / "tools" / "eval.py"
    with tempfile.TemporaryDirectory(prefix="realrepos-agree-") as tmp:
        out = Path(tmp) / "eval.json"
        replay = f"cat {shlex.quote(str(batch_dir))}/{{repo}}.jsonl"
        cmd = [python, str(script), "--batch-cmd", replay]
        cmd += ["--checkouts", str(checkouts), "--out", str(out)]
        for name in repos:
            cmd += ["--repo", name]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not out.is_file():
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"eval.py exited {done.returncode}: {tail}")
        result: dict[str, Any] = json.loads(out.read_text())
    return result


def compare_run(section: dict[str, Any], reference: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(what, ours, eval.py's) for every figure both have."""
    rows = [r for r in section["repos"] if r.get("status") == "ok"]
    ours_by_repo = {r["name"]: r for r in rows}
    pairs: list[tuple[str, Any, Any]] = []
    for theirs in reference["per_repo"]:
        mine = ours_by_repo[theirs["repo"]]
        pairs.append((theirs["repo"], mine["ndcg10"][CODEQUEST], theirs["ndcg10"]))
        for category, value in theirs["by_category"].items():
            ours = mine["by_category"][CODEQUEST].get(category)
            pairs.append((f"{theirs['repo']} {category}", ours, value))
    names = {t["repo"] for t in reference["per_repo"]}
    chosen = [r for r in rows if r["name"] in names]
    mean = statistics.fmean(r["ndcg10"][CODEQUEST] for r in chosen)
    pairs.insert(0, ("mean over repositories", mean, reference["ndcg10_mean_over_repos"]))
    if len(chosen) == len(rows):  # the run's own means are over these repositories
        summary = section["summary"]
        for category, value in reference["by_category"].items():
            ours = summary["by_category"].get(category, {}).get(CODEQUEST)
            pairs.append((f"category {category}", ours, value))
        for language, value in reference["by_language"].items():
            ours = summary["by_language"].get(language, {}).get(CODEQUEST)
            pairs.append((f"language {language}", ours, value))
    return pairs


def rescore_eval_run(path: Path) -> tuple[int, list[str]]:
    """Re-score every query of an ``eval.py --out`` file; (queries checked, mismatches)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    queries = {r.name: {q.text: q for q in r.queries} for r in load_set(set_dir())}
    checked, wrong = 0, []
    for repo in data["per_repo"]:
        for row in repo["per_query"]:
            query = queries[repo["repo"]][row["query"]]
            hits = [parse_location(h) for h in row["top"]]
            ours = ndcg_locations(hits, query.targets, 10)
            checked += 1
            if ours != row["ndcg10"]:
                wrong.append(f"{repo['repo']}: {row['query']!r} {ours} != {row['ndcg10']}")
    return checked, wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results JSON with a realrepos section")
    parser.add_argument("--repo", action="append", default=[], help="only these (repeatable)")
    parser.add_argument("--semble-run", type=Path, default=SEMBLE_REFERENCE)
    parser.add_argument("--python", default=sys.executable, help="the Python that runs eval.py")
    args = parser.parse_args(argv)
    result = json.loads(args.results.read_text(encoding="utf-8"))
    section = result["realrepos"]
    batch_dir = Path(section["per_query_file"]).parent / "eval-batch"
    if not batch_dir.is_dir():
        print(f"{batch_dir} not found: the run's detail folder is not on this machine")
        return 1
    repos = args.repo or [r["name"] for r in section["repos"] if r.get("status") == "ok"]
    checkouts = Path(section["settings"]["checkouts"])
    reference = eval_py_scores(batch_dir, repos, checkouts, args.python)
    differ = 0
    print(f"{'':<34} {'codequest bench':>18} {'tools/eval.py':>18}")
    for what, ours, theirs in compare_run(section, reference):
        same = ours == theirs
        differ += not same
        mark = "" if same else "   DIFFERS"
        print(f"{what:<34} {_num(ours):>18} {_num(theirs):>18}{mark}")
    print(f"\nfigures compared: identical {'yes' if not differ else f'no ({differ} differ)'}")
    if args.semble_run and args.semble_run.is_file():
        checked, wrong = rescore_eval_run(args.semble_run)
        print(
            f"{args.semble_run.name}: {checked} queries re-scored with ndcg_locations, "
            f"{len(wrong)} differ from eval.py's"
        )
        for line in wrong[:10]:
            print(f"  {line}")
        differ += len(wrong)
    return 1 if differ else 0


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.12f}"


if __name__ == "__main__":
    raise SystemExit(main())
