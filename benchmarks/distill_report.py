"""Distilled query encoders: quality against cost, one row per query-side encoder.

Run ``python -m benchmarks.distill_report`` after ``codequest distill`` has written its
students. Every row ranks the same teacher document embeddings (brute-force cosine), so
only the query side changes. Rows: BM25; the teacher under torch and ONNX (fp32, int8);
every trained student; the shipped default and the teacher fused with BM25.

Quality: NDCG@10, MRR@10, Recall@1/10 on CoSQA test and each csn-maxmin set. Cost: median
single-query encode time at 1 and 2 threads, parameters, artifact bytes. The JSON result
records the commit and the machine; a PNG plots CoSQA NDCG@10 against encode time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import eval_root, git_info, load_average, machine_info
from codequest.distill.evalsets import EvalSet, evaluate_dense, load_beir, metrics_from_ranked
from codequest.encoders.base import normalize_rows
from codequest.encoders.models import codequest_home
from codequest.index.lexical import LexicalIndex
from codequest.tokens import tokenize

SETS = [
    "cosqa",
    "csn-maxmin-python",
    "csn-maxmin-java",
    "csn-maxmin-javascript",
    "csn-maxmin-php",
    "csn-maxmin-go",
]
ROOT = Path(__file__).resolve().parent


@dataclass
class Row:
    name: str
    adaptation: str
    encode: Callable[[list[str]], np.ndarray] | None  # batch of queries -> vectors
    single: Callable[[int], Callable[[str], Any]] | None  # threads -> one-query function
    params: int
    size_bytes: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    note: str = ""


class Bm25:
    """The product's BM25 (codequest.lexical) over identifier-split tokens."""

    def __init__(self, docs: list[str]) -> None:
        self.vocab: dict[str, int] = {}
        terms = []
        for text in docs:
            counts: dict[int, int] = {}
            for tok in tokenize(text):
                tid = self.vocab.setdefault(tok, len(self.vocab))
                counts[tid] = counts.get(tid, 0) + 1
            terms.append((np.fromiter(counts, np.int64), np.fromiter(counts.values(), np.float32)))
        self.index = LexicalIndex.build(terms, len(self.vocab))

    def scores(self, query: str) -> np.ndarray:
        return self.index.scores([self.vocab[t] for t in tokenize(query) if t in self.vocab])


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def hybrid_ranked(
    evalset: EvalSet, qvecs: np.ndarray, docs: np.ndarray, bm25: Bm25, alpha: float
) -> list[list[str]]:
    """Convex fusion of min-max normalised dense and BM25 scores over the whole corpus."""
    ranked = []
    dense = qvecs @ docs.T
    for i, query in enumerate(evalset.query_texts):
        fused = alpha * _minmax(dense[i]) + (1 - alpha) * _minmax(bm25.scores(query))
        top = np.argsort(-fused, kind="stable")[:10]
        ranked.append([evalset.doc_ids[j] for j in top])
    return ranked


def latency_ms(fn: Callable[[str], Any], queries: list[str]) -> tuple[float, float, float]:
    """Median, 10th percentile and minimum single-query time (warm). On a loaded machine the
    median carries the scheduler's noise; p10 and the minimum approach the uncontended cost."""
    for q in queries[:50]:
        fn(q)
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), float(np.percentile(times, 10)), min(times)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def onnx_params(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return int(sum(int(np.prod(t.dims)) for t in model.graph.initializer))


def artifact_row(name: str, adaptation: str, folder: Path) -> Row:
    from codequest.encoders.onnx_query import OnnxQueryEncoder
    from codequest.encoders.static_query import StaticQueryEncoder

    card = json.loads((folder / "card.json").read_text())
    if card.get("encoder") == "static":
        static = StaticQueryEncoder(folder)
        encode = static.encode_queries
        table = np.load(folder / "table.npy", mmap_mode="r")
        with np.load(folder / "map.npz") as m:
            params = int(np.prod(table.shape)) + sum(int(m[k].size) for k in m.files)

        def single(threads: int) -> Callable[[str], Any]:
            return static.encode_query
    else:
        encode = OnnxQueryEncoder(folder).encode_queries
        params = onnx_params(folder / str(card.get("onnx_file", "model.onnx")))

        def single(threads: int) -> Callable[[str], Any]:
            return OnnxQueryEncoder(folder, threads=threads).encode_query

    note = str(card.get("base", ""))
    return Row(name, adaptation, encode, single, params, folder_bytes(folder), note=note)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", default=str(eval_root()))
    parser.add_argument("--students", default=str(codequest_home() / "distill" / "students"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument(
        "--only", default="", help="comma-separated student names: measure only these rows"
    )
    parser.add_argument("--merge", default="", help="add the rows to this result JSON")
    parser.add_argument(
        "--hybrid",
        default="",
        help="comma-separated student names that also get a BM25 hybrid row",
    )
    parser.add_argument(
        "--max-queries",
        type=int,
        default=0,
        help="first N queries of each csn-maxmin set (0: all); CoSQA test is always whole",
    )
    parser.add_argument("--out", default=str(ROOT / "results"))
    return parser


def load_sets(eval_dir: Path, names: list[str], max_queries: int) -> dict[str, EvalSet]:
    """The test splits; csn-maxmin sets cut to their first ``max_queries`` queries."""
    sets = {n: load_beir(eval_dir / n, "test") for n in names}
    if not max_queries:
        return sets
    return {
        n: s
        if n == "cosqa"
        else dataclasses.replace(
            s, query_ids=s.query_ids[:max_queries], query_texts=s.query_texts[:max_queries]
        )
        for n, s in sets.items()
    }


class Study:
    """The teacher, the sets with their document embeddings, and the measured rows."""

    def __init__(self, args: argparse.Namespace) -> None:
        from codequest.distill.cache import cached_embeddings
        from codequest.encoders.models import load_sentence_transformer, resolve_model

        self.resolved = resolve_model("all-MiniLM-L6-v2")
        self.teacher = load_sentence_transformer(self.resolved, device="cpu")
        eval_dir = Path(args.eval_dir)
        self.sets = load_sets(eval_dir, [n for n in args.sets.split(",") if n], args.max_queries)
        self.dev = load_beir(eval_dir / "cosqa", "dev")
        identity = self.resolved.identity
        self.docs = {
            n: cached_embeddings(self.teacher, identity, s.doc_texts, tag=f"eval-{n}")
            for n, s in self.sets.items()
        }
        self.bm25 = {n: Bm25(s.doc_texts) for n, s in self.sets.items()}
        cosqa = self.sets.get("cosqa")
        self.latency_queries = cosqa.query_texts[: args.latency_queries] if cosqa else []
        self.vectors: dict[tuple[str, str], np.ndarray] = {}

    def baseline_rows(self) -> list[Row]:
        """BM25, the teacher under torch, and its ONNX exports (fp32, int8)."""
        from codequest.encoders.export import export_teacher

        teacher = self.teacher

        def teacher_encode(texts: list[str]) -> np.ndarray:
            vectors: np.ndarray = teacher.encode(texts, batch_size=64, normalize_embeddings=True)
            return vectors

        def teacher_single(threads: int) -> Callable[[str], Any]:
            import torch

            def one(text: str) -> Any:
                torch.set_num_threads(threads)
                return teacher.encode([text], normalize_embeddings=True)

            return one

        n_teacher = sum(p.numel() for p in teacher.parameters())
        size = folder_bytes(Path(self.resolved.path))
        return [
            Row("bm25", "lexical", None, None, 0, 0),
            Row("teacher (torch)", "teacher", teacher_encode, teacher_single, n_teacher, size),
            artifact_row("teacher onnx fp32", "compact", export_teacher(self.resolved)),
            artifact_row("teacher onnx int8", "compact", export_teacher(self.resolved, int8=True)),
        ]

    def measure(self, row: Row) -> Row:
        """Quality on every set, and single-query latency at one and two threads."""
        print(f"[report] {row.name}", file=sys.stderr, flush=True)
        for n, s in self.sets.items():
            if row.encode is None:
                ranked = [
                    [s.doc_ids[j] for j in LexicalIndex.top_of(self.bm25[n].scores(q), 10)]
                    for q in s.query_texts
                ]
                row.metrics[n] = metrics_from_ranked(ranked, s.query_ids, s.qrels)
                continue
            q = normalize_rows(row.encode(s.query_texts))
            self.vectors[(row.name, n)] = q
            row.metrics[n] = evaluate_dense(s, q, self.docs[n])
        if row.single is not None and self.latency_queries:
            for threads in (1, 2):
                med, p10, best = latency_ms(row.single(threads), self.latency_queries)
                row.latency_ms[f"{threads}t"] = med
                row.latency_ms[f"{threads}t_p10"] = p10
                row.latency_ms[f"{threads}t_min"] = best
                row.latency_ms[f"{threads}t_load1"] = os.getloadavg()[0]
        return row

    def hybrid_row(self, base: Row) -> Row:
        """``base`` fused with BM25; the fusion weight is picked on CoSQA dev."""
        from codequest.distill.cache import cached_embeddings

        assert base.encode is not None
        dev = self.dev
        dev_docs = cached_embeddings(
            self.teacher, self.resolved.identity, dev.doc_texts, tag="eval-cosqa"
        )
        dev_bm25 = Bm25(dev.doc_texts)
        dev_q = normalize_rows(base.encode(dev.query_texts))
        best = max(
            (
                metrics_from_ranked(
                    hybrid_ranked(dev, dev_q, dev_docs, dev_bm25, a), dev.query_ids, dev.qrels
                )["ndcg@10"],
                a,
            )
            for a in (0.5, 0.6, 0.7, 0.8, 0.9)
        )
        alpha = best[1]
        row = Row(
            f"{base.name} + bm25 hybrid",
            "hybrid",
            None,
            None,
            base.params,
            base.size_bytes,
            note=f"alpha={alpha} (picked on cosqa dev)",
        )
        row.latency_ms = dict(base.latency_ms)
        for n, s in self.sets.items():
            ranked = hybrid_ranked(
                s, self.vectors[(base.name, n)], self.docs[n], self.bm25[n], alpha
            )
            row.metrics[n] = metrics_from_ranked(ranked, s.query_ids, s.qrels)
        return row


def student_rows(study: Study, students: Path, only: set[str]) -> list[Row]:
    """Every trained student, then the shipped default (skipped with ``--only``)."""
    from codequest.encoders.students import built_dir, shipped_cards, shipped_student_dir

    rows: list[Row] = []
    for folder in sorted(students.glob("*/artifact")):
        if only and folder.parent.name not in only:
            continue
        card = json.loads((folder / "card.json").read_text())
        rows.append(
            study.measure(artifact_row(folder.parent.name, str(card.get("adaptation")), folder))
        )
    shipped = [(f, c) for f, c in shipped_cards() if c.get("default")]
    if shipped and not only:
        built = shipped_student_dir(study.resolved.identity) or built_dir(shipped[0][0])
        name = f"shipped default ({shipped[0][1]['name']})"
        rows.append(study.measure(artifact_row(name, "shipped", built)))
    return rows


def row_json(r: Row) -> dict[str, Any]:
    return {
        "name": r.name,
        "adaptation": r.adaptation,
        "params": r.params,
        "size_bytes": r.size_bytes,
        "latency_ms": r.latency_ms,
        "metrics": r.metrics,
        "note": r.note,
    }


def merge_into(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    """``result``'s rows added to the result JSON at ``path`` (replacing rows of that name)."""
    merged: dict[str, Any] = json.loads(path.read_text())
    names = {r["name"] for r in result["rows"]}
    kept = [r for r in merged["rows"] if r["name"] not in names]
    # Students go before the hybrid rows, which stay last.
    hybrid = [r for r in kept if r["adaptation"] == "hybrid"]
    rest = [r for r in kept if r["adaptation"] != "hybrid"]
    merged["rows"] = rest + result["rows"] + hybrid
    merged.setdefault("merged_runs", []).append(
        {"commit": result["commit"], "machine": result["machine"], "rows": sorted(names)}
    )
    return merged


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    study = Study(args)
    only = {n for n in args.only.split(",") if n}
    rows = [] if only else [study.measure(row) for row in study.baseline_rows()]
    # Students are looked up only now, so a student that finishes training while the
    # baselines are measured is still included.
    students = student_rows(study, Path(args.students), only)
    rows += students
    hybrid_names = {"teacher onnx fp32", *(n for n in args.hybrid.split(",") if n)}
    bases = [r for r in rows if r.name in hybrid_names]
    bases += [r for r in students if r.adaptation == "shipped"]
    rows += [study.hybrid_row(base) for base in bases]

    commit = git_info()["short"]
    result: dict[str, Any] = {
        "benchmark": "distill",
        "commit": commit,
        "machine": {**machine_info(), "load_average": load_average()},
        "teacher": study.resolved.identity,
        "sets": {
            n: {"queries": len(s.query_ids), "docs": len(s.doc_ids)} for n, s in study.sets.items()
        },
        "rows": [row_json(r) for r in rows],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"distill-{commit}.json"
    if args.merge:
        path = Path(args.merge)
        result = merge_into(path, result)
        commit = str(result["commit"])
    path.write_text(json.dumps(result, indent=2))
    plot(result, out / f"distill-{commit}.png")
    print(table(result))
    print(f"[report] wrote {path}", file=sys.stderr)
    return 0


def table(result: dict[str, Any]) -> str:
    sets = list(result["sets"])
    head = [
        "row",
        "params",
        "MB",
        "ms 1t",
        "p10 1t",
        "min 1t",
        "ms 2t",
        "CoSQA NDCG",
        "MRR",
        "R@1",
        "R@10",
        *[s.replace("csn-maxmin-", "csn-") for s in sets[1:]],
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        c = r["metrics"].get("cosqa", {})
        cells = [
            r["name"],
            f"{r['params'] / 1e6:.1f}M",
            f"{r['size_bytes'] / 1e6:.1f}",
            f"{r['latency_ms'].get('1t', float('nan')):.2f}",
            f"{r['latency_ms'].get('1t_p10', float('nan')):.2f}",
            f"{r['latency_ms'].get('1t_min', float('nan')):.2f}",
            f"{r['latency_ms'].get('2t', float('nan')):.2f}",
            f"{c.get('ndcg@10', float('nan')):.3f}",
            f"{c.get('mrr@10', float('nan')):.3f}",
            f"{c.get('recall@1', float('nan')):.3f}",
            f"{c.get('recall@10', float('nan')):.3f}",
            *[f"{r['metrics'][s]['ndcg@10']:.3f}" for s in sets[1:]],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in result["rows"]:
        ms = r["latency_ms"].get("1t_p10", r["latency_ms"].get("1t_min"))
        ndcg = r["metrics"].get("cosqa", {}).get("ndcg@10")
        if ms is None or ndcg is None:
            if ndcg is not None:
                ax.axhline(ndcg, ls=":", c="grey")
                ax.text(0.011, ndcg, r["name"], fontsize=7, va="bottom")
            continue
        ax.scatter(ms, ndcg)
        ax.annotate(r["name"], (ms, ndcg), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("single-query encode time, 1 thread, 10th percentile (ms, log)")
    ax.set_ylabel("CoSQA test NDCG@10")
    ax.set_title(f"Query encoders in the teacher's space ({result['commit']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
