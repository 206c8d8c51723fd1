"""stdlib-bench: 120 queries over a fixed CPython 3.11.7 standard-library subset.

The corpus is materialised with the set's own ``materialize.py`` (it checks every file's
sha256), indexed with a real :class:`~codequest.workspace.Workspace` into a fresh cache
folder, and searched with ``Workspace.search``. Results are written as a ``run.jsonl`` in
``score.py``'s format (``path:start-end``) and scored by :func:`score_run`, a line-for-line
port of ``score.py`` (tests check it against ``score.py`` on the shipped baselines).
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.common import Progress, bench_cache, eval_root
from benchmarks.encoders import BM25, encoder_label, query_encoder
from benchmarks.memstore import FixedQueryEncoder
from benchmarks.quality import RunConfig, bm25_top, encode_queries, lexical_index
from codequest.config import Config
from codequest.encoders import DocumentEncoder, QueryEncoder
from codequest.metrics import ndcg_binary
from codequest.workspace import Workspace

K = 10
CATEGORIES = ("symbol", "semantic", "architecture")


def bench_dir() -> Path:
    return eval_root() / "stdlib-bench"


# -- the scorer (a port of score.py; keep it identical) -------------------------------------
_SPAN = re.compile(r"^(?P<p>.+?):(?P<s>\d+)(?:-(?P<e>\d+))?$")

Target = str | Mapping[str, Any]  # a path, or {path, start_line, end_line}


def parse_result(text: str) -> tuple[str, int | None, int | None]:
    text = text.strip()
    m = _SPAN.match(text)
    if m:
        s = int(m.group("s"))
        return m.group("p"), s, int(m.group("e")) if m.group("e") else s
    return text, None, None


def covers(hit: tuple[str, int | None, int | None], target: Target) -> bool:
    path, s, e = hit
    path = path.replace("\\", "/").removeprefix("./")
    tpath = target if isinstance(target, str) else target["path"]
    if not (path == tpath or path.endswith("/" + tpath)):
        return False
    if isinstance(target, str) or s is None or e is None:
        return True
    return not (e < target["start_line"] or s > target["end_line"])


def ndcg(results: Sequence[str], targets: Sequence[Target], k: int = K) -> float:
    """For every target, the first covering result in the top k gains 1 (once per result)."""
    hits = [parse_result(r) for r in results[:k]]
    gains = [0] * len(hits)
    for t in targets:
        for i, h in enumerate(hits):
            if covers(h, t):
                gains[i] = 1
                break
    return ndcg_binary(gains, len(targets), k)


def load_annotations(path: Path | None = None) -> list[dict[str, Any]]:
    path = path or bench_dir() / "annotations.json"
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def read_run(path: Path) -> dict[str, list[str]]:
    runs: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            runs[obj["query"]] = [str(r) for r in obj.get("results", [])]
    return runs


def score_run(
    runs: dict[str, list[str]], annotations: list[dict[str, Any]], k: int = K
) -> dict[str, Any]:
    """NDCG@k overall and per category, as ``score.py`` computes it (unrounded)."""
    cats: dict[str, list[float]] = defaultdict(list)
    scores: list[float] = []
    for item in annotations:
        score = ndcg(runs.get(item["query"], []), item["relevant"] + item["secondary"], k)
        scores.append(score)
        cats[item["category"]].append(score)
    missing = sum(1 for item in annotations if item["query"] not in runs)
    return {
        "ndcg@10": sum(scores) / len(scores) if scores else 0.0,
        "per_category": {c: sum(v) / len(v) for c, v in sorted(cats.items())},
        "queries": len(scores),
        "missing": missing,
    }


def score_with_reference(run_path: Path, annotations: Path | None = None) -> float | None:
    """The overall NDCG@10 printed by the set's own ``score.py`` (None if it cannot run)."""
    script = bench_dir() / "score.py"
    if not script.is_file():
        return None
    cmd = [sys.executable, str(script), str(run_path)]
    if annotations is not None:
        cmd += ["--annotations", str(annotations)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"NDCG@\d+ = ([0-9.]+)", out)
    return float(m.group(1)) if m else None


# -- the corpus ------------------------------------------------------------------------------
def materialize(dest: Path | None = None) -> Path:
    """The verified corpus folder (cached); raises RuntimeError saying why it cannot be made."""
    dest = dest or bench_cache() / "stdlib-bench-corpus"
    marker = dest.with_name(dest.name + ".verified")
    if marker.is_file() and dest.is_dir():
        return dest
    script = bench_dir() / "materialize.py"
    if not script.is_file():
        raise RuntimeError(f"{script} not found (set CODEQUEST_EVAL to the shared eval folder)")
    cmd = [sys.executable, str(script), "materialize", str(dest), "--force"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"materialize.py failed ({proc.returncode}): {' | '.join(tail)}")
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    return dest


def _result_spec(path: str, start: int, end: int) -> str:
    return f"{path}:{start}-{end}"


def run_stdlib_bench(
    doc_encoder: DocumentEncoder,
    configs: Sequence[RunConfig],
    *,
    model: str,
    out_dir: Path | None,
    corpus: Path | None = None,
    progress: bool = True,
    encoders: dict[str, QueryEncoder] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Index the corpus once (fresh cache folder) and score every config."""
    encoders = encoders if encoders is not None else {}
    annotations = load_annotations()
    corpus = corpus or materialize()
    cache = Path(tempfile.mkdtemp(prefix="codequest-stdlib-index-"))
    try:
        config = Config(model=model, cache_dir=str(cache))
        ws = Workspace(corpus, config, document_encoder=doc_encoder)
        bar = Progress("index stdlib-bench", 1, enabled=progress)
        report = ws.index()
        bar.close(f"{report.files} files, {report.chunks} chunks, {report.embedded} embedded")
        queries = [a["query"] for a in annotations]
        rows: list[dict[str, Any]] = []
        vectors_by_encoder: dict[str, dict[str, Any]] = {}
        for run_config in configs:
            results_by_query: dict[str, list[tuple[str, int, int]]] = {}
            if run_config.encoder == BM25:
                store = ws.local_store()
                lexical, ids = lexical_index(store)
                for q in queries:
                    top = bm25_top(store, lexical, ids, q, K)
                    results_by_query[q] = [
                        (store.chunks[c].path, store.chunks[c].start_line, store.chunks[c].end_line)
                        for c in top
                    ]
                encode_stats: dict[str, Any] = {"n": 0}
            else:
                if run_config.encoder not in vectors_by_encoder:
                    enc = encoders.get(run_config.encoder) or query_encoder(
                        model, run_config.encoder, ws.model_identity
                    )
                    encoders[run_config.encoder] = enc
                    vecs, stats = encode_queries(
                        enc,
                        queries,
                        label=f"stdlib {encoder_label(run_config.encoder)}",
                        progress=progress,
                    )
                    vectors_by_encoder[run_config.encoder] = {"vectors": vecs, "stats": stats}
                entry = vectors_by_encoder[run_config.encoder]
                encode_stats = entry["stats"]
                searcher_ws = Workspace(
                    corpus,
                    replace(config, hybrid=run_config.hybrid),
                    document_encoder=doc_encoder,
                    query_encoder=FixedQueryEncoder(entry["vectors"], ws.model_identity),
                )
                for q in queries:
                    results_by_query[q] = [
                        (r.path, r.start_line, r.end_line) for r in searcher_ws.search(q, limit=K)
                    ]
            rows.append(
                _score_config(run_config, results_by_query, annotations, out_dir, encode_stats)
            )
            log(
                f"  {'stdlib-bench':<24} {run_config.name:<28} NDCG@10 {rows[-1]['ndcg@10']:.4f}  "
                + "  ".join(f"{c} {v:.3f}" for c, v in rows[-1]["per_category"].items())
            )
        return {
            "corpus": str(corpus),
            "files": report.files,
            "chunks": report.chunks,
            "document_encoder": doc_encoder.identity,
            "configs": rows,
        }
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _score_config(
    config: RunConfig,
    results_by_query: dict[str, list[tuple[str, int, int]]],
    annotations: list[dict[str, Any]],
    out_dir: Path | None,
    encode_stats: dict[str, Any],
) -> dict[str, Any]:
    runs = {q: [_result_spec(*r) for r in rs] for q, rs in results_by_query.items()}
    scored = score_run(runs, annotations)
    sizes = [end - start + 1 for rs in results_by_query.values() for _, start, end in rs]
    row: dict[str, Any] = {
        "config": config.name,
        "ndcg@10": round(scored["ndcg@10"], 4),
        "per_category": {c: round(v, 4) for c, v in scored["per_category"].items()},
        "median_result_lines": statistics.median(sizes) if sizes else 0,
        "results_per_query": round(len(sizes) / max(1, len(results_by_query)), 2),
        "encode_ms": encode_stats,
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        safe = config.name.replace(":", "-").replace("/", "_")
        path = out_dir / f"stdlib-bench-{safe}.run.jsonl"
        by_query = {a["query"]: a for a in annotations}
        with open(path, "w", encoding="utf-8") as fh:
            for q, results in runs.items():
                item = by_query[q]
                score = ndcg(results, item["relevant"] + item["secondary"])
                fh.write(
                    json.dumps(
                        {
                            "query": q,
                            "category": item["category"],
                            "ndcg10": round(score, 4),
                            "results": results,
                        }
                    )
                    + "\n"
                )
        row["run_file"] = str(path)
        reference = score_with_reference(path)
        if reference is not None:
            row["score_py_ndcg@10"] = reference
    return row
