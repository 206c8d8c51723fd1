"""``codequest bench``: run the benchmarks, print a table, write JSON and plots.

Full mode (the default) runs everything with the default model; ``--quick`` is the CI
smoke run: the hashing encoder (no weights, so it is fast and offline; its quality numbers
only check the pipeline), a 100-query / 1,000-document CoSQA subset, 10k chunks for
latency and the language-server round trip, and a small indexing subset.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.beir import load_beir, subset, unique_queries
from benchmarks.common import (
    REPO_ROOT,
    RESULTS_DIR,
    eval_root,
    git_info,
    load_average,
    machine_info,
    stage,
    thread_info,
    versions,
)

SCHEMA = "codequest-bench/1"
DEFAULT_SECTIONS = ("quality", "stdlib", "latency", "lsp", "indexing")
# The soak, the edits on a real repository and the real-repository benchmark (an hour on
# 2 cores) run only when asked for.
ALL_SECTIONS = (*DEFAULT_SECTIONS, "soak", "edits", "realrepos")
BEIR_SETS = (
    "cosqa",
    "csn-maxmin-python",
    "csn-maxmin-javascript",
    "csn-maxmin-java",
    "csn-maxmin-go",
    "csn-maxmin-php",
)
FULL_CONFIGS = (
    "bm25",
    "dense:auto",  # the shipped default query encoder (queryEncoder "auto")
    "hybrid:auto",
    "dense:teacher-onnx",
    "hybrid:teacher-onnx",
    "hybrid:teacher-int8",
    "hybrid:teacher",
)
QUICK_CONFIGS = ("bm25", "dense:hashing", "hybrid:hashing")
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run (< 2 min): hashing encoder, small subsets, 10k chunks",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=None, help=f"where results go (default {RESULTS_DIR})"
    )
    parser.add_argument(
        "--sections",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma-separated, from {','.join(ALL_SECTIONS)} "
        "(default: all but soak and realrepos)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="document encoder (default all-MiniLM-L6-v2; hashing with --quick)",
    )
    parser.add_argument(
        "--configs",
        default=None,
        help="comma-separated: bm25, dense:ENC, hybrid:ENC (ENC: teacher-onnx, "
        "teacher-int8, teacher, auto, hashing, or a folder)",
    )
    parser.add_argument(
        "--query-encoder",
        action="append",
        default=[],
        metavar="PATH",
        help="also evaluate this student folder (dense and hybrid; repeatable)",
    )
    parser.add_argument(
        "--datasets",
        default=None,
        help=f"comma-separated BEIR folders under the eval root "
        f"(default {','.join(BEIR_SETS)}; cosqa with --quick)",
    )
    parser.add_argument(
        "--eval-dir",
        type=Path,
        default=None,
        help="root of the BEIR sets, stdlib-bench and realrepos-dev (default ../shared/eval)",
    )
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-queries", type=int, default=None)
    parser.add_argument("--max-docs", type=int, default=None)
    parser.add_argument("--sizes", default=None, help="index sizes for latency, e.g. 10k,100k,1M")
    parser.add_argument("--latency-queries", type=int, default=None)
    parser.add_argument(
        "--rounds", type=int, default=None, help="passes over the latency queries (full: 3)"
    )
    parser.add_argument(
        "--pause-ms",
        type=float,
        default=None,
        help="also time LSP round trips after this pause before each query, as between "
        "keystrokes (full: 100; quick: off)",
    )
    parser.add_argument(
        "--index-chunks",
        type=int,
        default=None,
        help="stdlib subset size for the indexing benchmark (chunks)",
    )
    realrepos = parser.add_argument_group("realrepos (semble's annotations on 32 repositories)")
    realrepos.add_argument(
        "--realrepos-checkouts",
        type=Path,
        default=None,
        help="the pinned checkouts (default $REALREPOS_CHECKOUTS or ~/.cache/codequest-realrepos)",
    )
    realrepos.add_argument(
        "--realrepos-via",
        choices=("inprocess", "lsp"),
        default="inprocess",
        help="answer the queries with Workspace.search in process, or through a real "
        "`codequest serve` (default inprocess)",
    )
    realrepos.add_argument(
        "--repos", default=None, help="comma-separated repository names (default: all)"
    )
    realrepos.add_argument(
        "--semble-run",
        default=None,
        metavar="FILE",
        help="semble run here: a tools/eval.py --out file (default the committed "
        "results/realrepos-semble-0.7.0-m2v-minilm.json; 'none' to leave it out)",
    )
    realrepos.add_argument("--no-bm25", action="store_true", help="leave out the raw BM25 baseline")
    parser.add_argument(
        "--document-encoder",
        choices=("torch", "onnx", "mixed"),
        default="torch",
        help="how documents are embedded: torch (bulk indexing), onnx (the teacher's export, "
        "as the language server embeds edits), mixed (half each, by text hash)",
    )
    parser.add_argument(
        "--edits-repo",
        default="vapor",
        help="edits section: a real repository, by name under $REALREPOS_CHECKOUTS "
        "(~/.cache/codequest-realrepos) or a path (default vapor)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        action="append",
        default=[],
        help="edits section: also run it against this source tree first (repeatable)",
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=main)


def _lsp_row(
    size: int, variant: str, recall: float, inproc: dict[str, Any], lsp: dict[str, Any]
) -> dict[str, Any]:
    """An LSP result with the in-process search (same store, same encoder) beside it."""
    row = {"chunks": size, "variant": variant, "recall@10": recall, **lsp}
    row["in_process_p50_ms"] = inproc.get("p50_ms")
    if lsp.get("status") == "ok" and inproc.get("p50_ms") is not None:
        row["overhead_p50_ms"] = round(lsp["p50_ms"] - inproc["p50_ms"], 4)
    return row


def _sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part in SIZES:
            out.append(SIZES[part])
        elif part:
            out.append(int(part.replace("_", "")))
    return out


class Bench:
    """One benchmark run: its settings, its shared encoders, and the result being built."""

    def __init__(self, args: argparse.Namespace) -> None:
        if args.eval_dir is not None:
            os.environ["CODEQUEST_EVAL"] = str(args.eval_dir)
        self.args = args
        self.quick = bool(args.quick)
        self.model = args.model or ("hashing" if self.quick else "all-MiniLM-L6-v2")
        self.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
        unknown = sorted(set(self.sections) - set(ALL_SECTIONS))
        if unknown:
            raise ValueError(f"unknown sections {unknown}; choose from {list(ALL_SECTIONS)}")
        self.progress = not args.no_progress
        if "realrepos" in self.sections and args.repos:
            from benchmarks.realrepos import load_set, set_dir

            if (set_dir() / "repos.json").is_file():  # an unknown name is refused up front
                load_set(set_dir(), [r.strip() for r in args.repos.split(",") if r.strip()])
        default_configs: tuple[str, ...] = (
            QUICK_CONFIGS if self.model == "hashing" else FULL_CONFIGS
        )
        if self.quick and self.model != "hashing":
            default_configs = ("bm25", "hybrid:teacher-onnx")
        names = args.configs.split(",") if args.configs else list(default_configs)
        for folder in args.query_encoder:
            names += [f"dense:{folder}", f"hybrid:{folder}"]
        from benchmarks.quality import RunConfig

        self.configs = [RunConfig.parse(n) for n in names if n.strip()]
        self.datasets = (
            args.datasets.split(",") if args.datasets else (["cosqa"] if self.quick else BEIR_SETS)
        )
        self.sizes = _sizes(args.sizes or ("10k" if self.quick else "10k,100k,1M"))
        self.latency_queries = args.latency_queries or (100 if self.quick else 300)
        self.rounds = max(1, args.rounds or (1 if self.quick else 3))
        pause_ms = args.pause_ms if args.pause_ms is not None else (0.0 if self.quick else 100.0)
        self.pause_s = max(0.0, pause_ms) / 1000.0
        self.index_chunks = args.index_chunks or (200 if self.quick else 3000)
        self.out_dir: Path = args.output_dir or RESULTS_DIR
        commit = git_info()
        machine = machine_info()
        self.stem = f"{commit['short']}-{machine['slug']}" + ("-quick" if self.quick else "")
        if set(self.sections) != set(DEFAULT_SECTIONS):
            # A partial run must not overwrite the full run of the same commit.
            self.stem += "-" + "-".join(s for s in ALL_SECTIONS if s in self.sections)
        if args.document_encoder != "torch":
            self.stem += f"-docs-{args.document_encoder}"
        self.detail_dir = self.out_dir / self.stem
        self.encoders: dict[str, Any] = {}
        self._doc_encoder: Any = None
        self.result: dict[str, Any] = {
            "schema": SCHEMA,
            "mode": "quick" if self.quick else "full",
            "commit": commit,
            "machine": machine,
            "versions": versions(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "load": {"start": load_average()},
            "settings": {
                "model": self.model,
                "configs": [c.name for c in self.configs],
                "datasets": list(self.datasets),
                "split": args.split,
                "sizes": self.sizes,
                "latency_queries": self.latency_queries,
                "rounds": self.rounds,
                "index_chunks": self.index_chunks,
                "sections": self.sections,
                "document_encoder": args.document_encoder,
                "eval_root": str(eval_root()),
            },
            "notes": [],
            "quality": {},
            "latency": {},
            "indexing": {},
        }
        if self.model == "hashing":
            self.note(
                "document encoder is the hashing encoder (lexical, no weights): quality "
                "numbers only check the pipeline; use full mode for real quality"
            )

    def note(self, text: str) -> None:
        self.result["notes"].append(text)

    def log(self, text: str) -> None:
        if self.progress:
            print(text, file=sys.stderr, flush=True)

    def log_always(self, text: str) -> None:
        """A line the user must see even without progress (a skipped repository)."""
        print(text, file=sys.stderr, flush=True)

    def doc_encoder(self) -> Any:
        if self._doc_encoder is None:
            from benchmarks.encoders import document_encoder
            from benchmarks.quality import wrap_cache

            self._doc_encoder = wrap_cache(
                document_encoder(self.model, path=self.args.document_encoder)
            )
        return self._doc_encoder

    # -- sections ------------------------------------------------------------------------
    def quality(self) -> None:
        from benchmarks.quality import evaluate_set

        rows: list[dict[str, Any]] = []
        for name in self.datasets:
            folder = eval_root() / name
            if not folder.is_dir():
                self.note(f"dataset {name} not found at {folder}; skipped")
                continue
            data = load_beir(folder, self.args.split)
            max_q = self.args.max_queries or (100 if self.quick else None)
            max_d = self.args.max_docs or (1000 if self.quick else None)
            if max_q or max_d:
                data = subset(data, max_queries=max_q, max_docs=max_d)
            with stage(f"quality: {data.describe()}", enabled=self.progress):
                rows += evaluate_set(
                    data,
                    self.doc_encoder(),
                    self.configs,
                    model=self.model,
                    per_query_dir=self.detail_dir / "per-query",
                    progress=self.progress,
                    encoders=self.encoders,
                    log=self.log,
                )
        self.result["quality"]["beir"] = rows

    def stdlib(self) -> None:
        from benchmarks.stdlib_bench import materialize, run_stdlib_bench

        with stage("stdlib-bench", enabled=self.progress):
            try:
                corpus = materialize()
            except RuntimeError as err:
                self.result["quality"]["stdlib_bench"] = {
                    "status": "unavailable",
                    "reason": str(err),
                }
                return
            self.result["quality"]["stdlib_bench"] = run_stdlib_bench(
                self.doc_encoder(),
                self.configs,
                model=self.model,
                out_dir=self.detail_dir,
                corpus=corpus,
                progress=self.progress,
                encoders=self.encoders,
                log=self.log,
            )

    def latency(self, with_lsp: bool) -> None:

        from benchmarks.encoders import query_encoder
        from benchmarks.latency import encode_latency, measure_store, ort_threading_check
        from benchmarks.lsp_bench import lsp_roundtrip
        from benchmarks.quality import encode_queries
        from benchmarks.synthetic import DESCRIPTION, BaseCorpus, synthetic_store
        from codequest.index.store import Store

        cosqa = eval_root() / "cosqa"
        data = load_beir(cosqa, "test")
        if self.quick:
            data = subset(data, max_queries=None, max_docs=1000)
        dev = load_beir(cosqa, "dev")
        queries = unique_queries(data, dev)[: self.latency_queries]
        base = BaseCorpus(tuple(d.text for d in data.corpus), tuple(d.title for d in data.corpus))
        doc = self.doc_encoder()
        with stage(
            f"latency: base embeddings ({len(base.texts)} CoSQA functions)", enabled=self.progress
        ):
            from benchmarks.quality import embed_corpus

            base_vectors = embed_corpus(
                doc, list(base.texts), label="cosqa base", progress=self.progress
            )
        choice = "hashing" if self.model == "hashing" else "auto"
        encoder = self.encoders.get(choice) or query_encoder(self.model, choice, doc.identity)
        self.encoders[choice] = encoder
        lat: dict[str, Any] = {
            "vectors": DESCRIPTION,
            "queries": len(queries),
            "query_source": "CoSQA test + dev queries, first N unique",
        }
        lat["encode"] = encode_latency(encoder, queries)
        qvecs, _ = encode_queries(encoder, queries, label="latency", progress=False)
        lat["sizes"] = []
        lat["lsp"] = []
        # The round trip runs at one size: 100k in full mode, the smallest in quick mode.
        lsp_sizes = {100_000} if not self.quick and 100_000 in self.sizes else {min(self.sizes)}
        for size in self.sizes:
            files = with_lsp and size in lsp_sizes
            with stage(f"latency: {size:,} chunks", enabled=self.progress):
                store_dir, src_dir, build_s = synthetic_store(
                    base,
                    base_vectors,
                    size,
                    doc.identity,
                    with_files=files,
                    progress=self.progress,
                )
                started = time.perf_counter()
                store = Store.load(store_dir, model=doc.identity)
                load_s = time.perf_counter() - started
                row = measure_store(
                    store,
                    queries,
                    qvecs,
                    encoder=encoder,
                    progress=self.progress,
                    rounds=self.rounds,
                )
                row.update(
                    {
                        "build_s": round(build_s, 1),
                        "load_s": round(load_s, 2),
                        "cached_store": build_s == 0.0,
                    }
                )
                if not self.quick and size == 100_000:
                    row["onnx_threading"] = ort_threading_check(store, queries, qvecs, encoder)
                lat["sizes"].append(row)
                recall = row["recall@10"]
                del store
                gc.collect()
            if files and src_dir is not None:
                variant = "hashing" if self.model == "hashing" else f"{self.model} ({choice})"
                with stage(f"LSP round trip: {size:,} chunks, {variant}", enabled=self.progress):
                    settings = {"model": self.model, "queryEncoder": choice}
                    # A yardstick for the machine's speed right now: the same
                    # encoder, warm, in this process, before and after the round trips.
                    reference_before = encode_latency(encoder, queries)["p50_ms"]
                    lsp = lsp_roundtrip(
                        src_dir,
                        store_dir,
                        settings,
                        queries,
                        expected_chunks=size,
                        rounds=self.rounds,
                        pause_s=self.pause_s,
                    )
                    lsp["reference_encode_p50_ms"] = {
                        "before": reference_before,
                        "after": encode_latency(encoder, queries)["p50_ms"],
                    }
                    lat["lsp"].append(
                        _lsp_row(size, variant, recall, row["search_with_encode"], lsp)
                    )
                if self.model != "hashing":
                    self._lsp_hashing(lat, base, size, queries)
        self.result["latency"] = lat

    def _lsp_hashing(self, lat: dict[str, Any], base: Any, size: int, queries: list[str]) -> None:
        """The same size with the hashing model: transport + search, almost no encoding."""
        from benchmarks.latency import lsp_range_cost, measure_store
        from benchmarks.lsp_bench import lsp_roundtrip
        from benchmarks.synthetic import synthetic_store
        from codequest.encoders import HashingEncoder
        from codequest.index.store import Store

        hashing = HashingEncoder()
        hvecs = hashing.encode_documents(list(base.texts))
        with stage(f"LSP round trip: {size:,} chunks, hashing", enabled=self.progress):
            h_store, h_src, _ = synthetic_store(
                base, hvecs, size, hashing.identity, with_files=True, progress=self.progress
            )
            assert h_src is not None
            loaded = Store.load(h_store, model=hashing.identity)
            qvecs = {q: hashing.encode_query(q) for q in queries}
            inproc = measure_store(
                loaded,
                queries,
                qvecs,
                encoder=hashing,
                sweep=False,
                progress=self.progress,
                rounds=self.rounds,
            )
            ranges = lsp_range_cost(loaded, h_src, queries, hashing)
            del loaded
            gc.collect()
            lsp = lsp_roundtrip(
                h_src,
                h_store,
                {"model": "hashing"},
                queries,
                expected_chunks=size,
                rounds=self.rounds,
                pause_s=self.pause_s,
            )
            row = _lsp_row(size, "hashing", inproc["recall@10"], inproc["search_with_encode"], lsp)
            row["lsp_range_ms"] = ranges
            lat["lsp"].append(row)

    def indexing(self) -> None:
        with (
            stage("indexing (child process)", enabled=self.progress),
            tempfile.TemporaryDirectory(prefix="codequest-bench-") as tmp,
        ):
            out = Path(tmp) / "indexing.json"
            cmd = [sys.executable, "-m", "benchmarks.indexing", "--model", self.model]
            cmd += ["--target-chunks", str(self.index_chunks), "--json", str(out)]
            if not self.quick:
                cmd.append("--full-stdlib")
            proc = subprocess.run(
                cmd,
                cwd=REPO_ROOT,  # where `-m benchmarks.indexing` resolves to this clone's
                stdout=subprocess.PIPE,
                stderr=None if self.progress else subprocess.PIPE,
                text=True,
                timeout=3600,
            )
            if proc.returncode != 0 or not out.is_file():
                tail = (proc.stderr or "").strip().splitlines()[-3:]
                self.result["indexing"] = {
                    "status": "error",
                    "reason": f"benchmarks.indexing exited {proc.returncode}: {' | '.join(tail)}",
                }
                return
            self.result["indexing"] = json.loads(out.read_text())

    def realrepos(self) -> None:
        """semble's annotations on pinned real repositories, CodeQuest beside BM25 and semble."""
        from benchmarks.realrepos import SEMBLE_REFERENCE, Options, default_checkouts, run_realrepos

        args = self.args
        semble: Path | None = SEMBLE_REFERENCE
        if args.semble_run is not None:
            semble = None if args.semble_run.lower() == "none" else Path(args.semble_run)
        options = Options(
            model=self.model,
            checkouts=args.realrepos_checkouts or default_checkouts(),
            via=args.realrepos_via,
            repos=tuple(r.strip() for r in (args.repos or "").split(",") if r.strip()),
            semble_run=semble,
            with_bm25=not args.no_bm25,
            detail_dir=self.detail_dir,
            progress=self.progress,
        )
        with stage(f"realrepos ({options.via})", enabled=self.progress):
            self.result["realrepos"] = run_realrepos(options, log=self.log_always)

    def soak(self) -> None:
        """Thousands of searches in bursts against a real server while files change."""
        from benchmarks.soak import run_soak

        requests = 400 if self.quick else 3000
        with stage(f"soak: {requests} searches while files change", enabled=self.progress):
            self.result["soak"] = run_soak(target="lsp", requests=requests, files=200)

    def edits(self) -> None:
        """Edits to searchable and the server's memory on a real repository, over the LSP."""
        from benchmarks.edits import run_edits

        trees = [*self.args.baseline_tree, REPO_ROOT]
        with stage(f"edits: {self.args.edits_repo}, {len(trees)} tree(s)", enabled=self.progress):
            self.result["edits"] = run_edits(self.args.edits_repo, trees=trees, model=self.model)

    def memory_summary(self) -> dict[str, Any]:
        """Memory in one place: peak RSS of indexing, resident RSS of a loaded server."""
        out: dict[str, Any] = {}
        sub = self.result.get("indexing", {}).get("subset", {})
        if sub:
            out["indexing_peak_rss_mb"] = sub["memory"]["peak_rss_mb"]
            out["indexing_what"] = (
                f"cold index of {sub['cold']['chunks']} chunks with {sub['model']} "
                "(child process, includes the model)"
            )
        for row in self.result.get("latency", {}).get("lsp", []):
            if row.get("status") == "ok":
                key = f"server_rss_mb_{row['chunks']}_{row['variant'].split()[0]}"
                out[key] = row.get("server_rss_mb")
        return out

    # -- the run -------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        if "quality" in self.sections:
            self.quality()
        if "stdlib" in self.sections:
            self.stdlib()
        if "latency" in self.sections or "lsp" in self.sections:
            self.latency(with_lsp="lsp" in self.sections)
        if "indexing" in self.sections:
            self.indexing()
        if "soak" in self.sections:
            self.soak()
        if "realrepos" in self.sections:
            self.realrepos()
        if "edits" in self.sections:
            self.edits()
        self.result["memory"] = self.memory_summary()
        self.result["threads"] = thread_info()
        self.result["load"]["end"] = load_average()
        self.result["seconds"] = round(time.perf_counter() - started, 1)
        self.result["targets"] = report.evaluate_targets(self.result)
        return self.result


def main(args: argparse.Namespace) -> int:
    try:
        bench = Bench(args)
    except ValueError as err:
        print(f"codequest bench: error: {err}", file=sys.stderr)
        return 2
    result = bench.run()
    bench.out_dir.mkdir(parents=True, exist_ok=True)
    json_path = bench.out_dir / f"{bench.stem}.json"
    if not args.no_plots:
        result["plots"] = [
            os.path.relpath(p, bench.out_dir)
            for p in report.plot(result, bench.out_dir, bench.stem)
        ]
    report.write_json(result, json_path)
    print(report.render(result))
    print(f"\nresults: {json_path}")
    return 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    register(parser)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result
