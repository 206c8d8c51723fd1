"""Time to the first semantic answer on a fresh clone, with and without a prebuilt index.

    python -m benchmarks.prebuilt_startup [--source DIR] [--model NAME] [--out FILE]

Makes a git repository from ``--source`` (default: this checkout's ``server/codequest``
at HEAD, via ``git archive``), builds a prebuilt index from it, clones it twice
and runs ``codequest search`` in a fresh process on each clone: once pointed at the
prebuilt index (``--index``), once indexing locally. Each clone also gets one edited file,
so the overlay path is exercised (which loads the document encoder), and a third,
unedited clone measures the prebuilt path alone. Wall-clock times include interpreter
start and model loading. Results are written as JSON with the commit and machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, RESULTS_DIR, git_info, load_average, machine_info

GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@codequest.invalid"]
QUERY = "merge base and overlay search results"


def _run(cmd: list[str], cwd: Path | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout + done.stderr


def _make_source(work: Path, source: Path | None) -> Path:
    repo = work / "origin"
    if source is not None:
        shutil.copytree(source, repo, ignore=shutil.ignore_patterns(".git", ".codequest"))
    else:
        repo.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", "HEAD", "server/codequest"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    subprocess.run(["git", *GIT_ID, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", *GIT_ID, "-C", str(repo), "commit", "-qm", "bench"], check=True)
    return repo


def _clone(origin: Path, target: Path, *, edit: bool = True) -> None:
    subprocess.run(["git", "clone", "-q", str(origin), str(target)], check=True)
    if not edit:
        return
    edited = next(p for p in sorted(target.rglob("*.py")) if p.stat().st_size > 2000)
    edited.write_text(edited.read_text() + "\n\ndef overlay_probe():\n    return 'edited'\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "prebuilt.json")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "codequest"]
    model = ["--model", args.model]
    with tempfile.TemporaryDirectory(prefix="cq-prebuilt-") as tmp:
        work = Path(tmp)
        origin = _make_source(work, args.source)
        prebuilt = str(work / "pb")
        build_s, build_out = _run([*cli, "index", str(origin), "--output", prebuilt, *model])
        _clone(origin, work / "with")
        _clone(origin, work / "without")
        _clone(origin, work / "clean", edit=False)
        search = [*cli, "search", QUERY, "-k", "3", *model]
        with_s, with_out = _run([*search, "--path", str(work / "with"), "--index", prebuilt])
        without_s, without_out = _run([*search, "--path", str(work / "without")])
        clean_s, _ = _run([*search, "--path", str(work / "clean"), "--index", prebuilt])
        warm_s, _ = _run([*search, "--path", str(work / "with"), "--index", prebuilt])
        files = sum(1 for _ in origin.rglob("*") if _.is_file() and ".git" not in _.parts)
    result = {
        "commit": git_info(),
        "machine": machine_info(),
        "load_average": load_average(),
        "model": args.model,
        "source_files": files,
        "build_prebuilt_s": round(build_s, 2),
        "build_output": build_out.strip().splitlines()[-1],
        "first_answer_with_prebuilt_s": round(with_s, 2),
        "first_answer_without_prebuilt_s": round(without_s, 2),
        "first_answer_with_prebuilt_unedited_clone_s": round(clean_s, 2),
        "second_answer_with_prebuilt_s": round(warm_s, 2),
        "top_with": with_out.strip().splitlines()[:2],
        "top_without": without_out.strip().splitlines()[:2],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
