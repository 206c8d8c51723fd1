"""Ray embedding throughput vs number of workers, overhead vs local indexing, N-GPU projection.

    python -m benchmarks.ray_scaling [--model NAME] [--workers 1,2] [--source DIR]

For each run the corpus (default: this checkout's ``server/codequest``) is copied to a fresh
folder so every run embeds everything. ``local`` is the in-process indexer; ``ray-N`` starts
a local Ray with N+1 CPUs and N embedding actors. Reported per run: total seconds, seconds
in the embedding stage, chunks embedded and chunks/s of that stage. The projection for N
GPUs multiplies the measured per-actor throughput by N and by the measured scaling
efficiency of the largest run, then adds the fixed per-run overhead (planning, actor start);
it is an estimate from CPU actors unless this machine has GPUs, and says so.
Results go to ``benchmarks/results/ray_scaling.json`` with the commit and machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, RESULTS_DIR, git_info, load_average, machine_info


def _fresh_copy(source: Path, work: Path, name: str) -> Path:
    target = work / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".codequest", "__pycache__"))
    return target


def _local(source: Path, work: Path, model: str) -> dict[str, Any]:
    from codequest.config import Config
    from codequest.workspace import Workspace

    ws = Workspace(_fresh_copy(source, work, "local"), Config(model=model))
    started = time.perf_counter()
    report = ws.index()
    total = time.perf_counter() - started
    embed = report.timings.get("embedding", 0.0) + report.timings.get("model_load", 0.0)
    return {
        "run": "local",
        "workers": 1,
        "total_s": round(total, 2),
        "embedding_s": round(embed, 2),
        "model_load_s": round(report.timings.get("model_load", 0.0), 2),
        "embedded": report.embedded,
        "chunks_per_s": round(report.embedded / report.timings["embedding"], 1)
        if report.timings.get("embedding")
        else None,
    }


def _ray(source: Path, work: Path, model: str, workers: int) -> dict[str, Any]:
    import ray

    from codequest.config import Config
    from codequest.distributed import index_workspace_on_ray
    from codequest.workspace import Workspace

    ws = Workspace(_fresh_copy(source, work, f"ray-{workers}"), Config(model=model))
    started = time.perf_counter()
    ray.init(
        num_cpus=workers + 1,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    boot = time.perf_counter() - started
    try:
        report = index_workspace_on_ray(ws, workers=workers)
    finally:
        ray.shutdown()
    total = time.perf_counter() - started
    embed = report.timings["ray_embedding"]
    return {
        "run": f"ray-{workers}",
        "workers": workers,
        "total_s": round(total, 2),
        "ray_start_s": round(boot, 2),
        "plan_s": round(report.timings["ray_plan"], 2),
        "embedding_s": round(embed, 2),  # includes actor start and model load per actor
        "embedded": report.embedded,
        "chunks_per_s": round(report.embedded / embed, 1) if embed else None,
    }


def _projection(runs: list[dict[str, Any]], gpus: int) -> dict[str, Any]:
    ray_runs = [r for r in runs if r["run"].startswith("ray-")]
    one = next((r for r in ray_runs if r["workers"] == 1), None)
    if one is None or not one["chunks_per_s"]:
        return {}
    per_actor = one["chunks_per_s"]
    largest = max(ray_runs, key=lambda r: r["workers"])
    efficiency = (largest["chunks_per_s"] or 0) / (per_actor * largest["workers"])
    overhead = one["ray_start_s"] + one["plan_s"]
    chunks = 1_000_000
    table = {}
    for n in (1, 2, 4, 8, 16, 32):
        rate = per_actor * n * efficiency if n > 1 else per_actor
        table[str(n)] = {
            "chunks_per_s": round(rate, 1),
            "hours_for_1M_chunks": round((chunks / rate + overhead) / 3600, 2),
        }
    return {
        "basis": "GPU actors" if gpus else "CPU actors on this machine (no GPU here)",
        "per_actor_chunks_per_s": per_actor,
        "scaling_efficiency": round(efficiency, 2),
        "fixed_overhead_s": round(overhead, 1),
        "by_workers": table,
        "note": (
            "rate(N) = per-actor rate x N x efficiency measured at the largest run here; "
            "GPU actors are typically 20-100x a CPU actor for MiniLM-sized encoders "
            "(not measured here). The driver (planning, writing the store) is serial."
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO_ROOT / "server/codequest")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--workers", default="1,2", help="comma-separated actor counts")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "ray_scaling.json")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cq-ray-") as tmp:
        work = Path(tmp)
        runs.append(_local(args.source, work, args.model))
        print(json.dumps(runs[-1]))
        for workers in (int(w) for w in args.workers.split(",")):
            runs.append(_ray(args.source, work, args.model, workers))
            print(json.dumps(runs[-1]))
    local = runs[0]
    for run in runs[1:]:
        run["overhead_vs_local_s"] = round(run["total_s"] - local["total_s"], 2)
    inside = args.source.is_relative_to(REPO_ROOT)
    source = str(args.source.relative_to(REPO_ROOT)) if inside else ""
    gpus = 0
    try:
        import torch

        gpus = torch.cuda.device_count()
    except ImportError:
        pass
    result = {
        "commit": git_info(),
        "machine": {**machine_info(), "gpus": gpus},
        "load_average": load_average(),
        "model": args.model,
        "source": source,
        "runs": runs,
        "projection": _projection(runs, gpus),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["projection"], indent=2))


if __name__ == "__main__":
    main()
