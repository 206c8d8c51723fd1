"""Indexing throughput on the Python standard library, run in a child process.

    python -m benchmarks.indexing --model all-MiniLM-L6-v2 --target-chunks 3000 --json OUT

The corpus is the running interpreter's standard library (``sysconfig`` "stdlib") without
``site-packages``, ``test``/``tests``, ``idlelib`` and ``__pycache__`` folders, copied to a
temporary folder (the edit step changes a file). Steps:

1. **Full stdlib, hashing encoder**: a cold index of every file (chunking throughput over
   the whole corpus, file/chunk/line counts), then a warm re-index with nothing changed
   and a one-file edit. The warm path never calls the encoder, so this measures the
   size-dependent costs (discovery, stat checks, store load and save) at full scale.
2. **Subset, the real model**: the first files in sorted order up to ``--target-chunks``
   chunks. Cold index (split into model load, chunking, embedding, writing, saving), warm
   re-index in the same process and from a fresh ``Workspace``, and one-file edit to
   searchable (re-index plus the first search, which rebuilds the search snapshot).
3. **Raw model throughput** on exactly the texts the pipeline embedded
   (``SentenceTransformer.encode``, same batch size and autocast), so
   efficiency = pipeline embedding rate / raw rate.
4. **bf16 vs fp32** on a fixed sample: throughput of each and their cosine agreement.

Peak RSS is sampled with psutil every 20 ms during the cold index. (``ru_maxrss`` is not
used: on Linux a child started by a large parent inherits the parent's high-water mark
across fork and exec.) Running in a child keeps the parent's memory (datasets, other
stores) out of the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import rss_mb

SKIP_DIRS = {"site-packages", "test", "tests", "idlelib", "__pycache__"}
PROBE = "codequest_bench_probe_function"


# -- corpus ----------------------------------------------------------------------------------
def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path) -> list[str]:
    """Sorted POSIX paths (relative to ``root``) of the corpus's ``.py`` files."""
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        rel = Path(folder).relative_to(root)
        out.extend((rel / f).as_posix() for f in files if f.endswith(".py"))
    return sorted(out)


def copy_files(root: Path, rels: list[str], dest: Path) -> int:
    lines = 0
    for rel in rels:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
        with open(target, "rb") as fh:
            lines += sum(1 for _ in fh)
    return lines


# -- memory ----------------------------------------------------------------------------------
class RssSampler:
    """Samples this process's RSS every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self._process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


# -- steps -----------------------------------------------------------------------------------
def _report(report: Any) -> dict[str, Any]:
    data: dict[str, Any] = report.to_json()
    return data


def _rates(report: Any) -> dict[str, float]:
    t = report.timings
    seconds = report.seconds
    no_load = max(1e-9, seconds - t.get("model_load", 0.0))
    embed = t.get("embedding", 0.0)
    return {
        "files_per_s": round(report.files / seconds, 2) if seconds else 0.0,
        "chunks_per_s": round(report.chunks / seconds, 2) if seconds else 0.0,
        "chunks_per_s_excluding_model_load": round(report.chunks / no_load, 2),
        "embedding_chunks_per_s": round(report.embedded / embed, 2) if embed else 0.0,
        "chunking_files_per_s": round(report.files / t["chunking"], 1)
        if t.get("chunking")
        else 0.0,
    }


def edit_file(path: Path, n: int) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(
            f"\n\ndef {PROBE}_{n}(values):\n"
            '    """Return the running maximum of a list of numbers (benchmark probe)."""\n'
            "    best = None\n"
            "    out = []\n"
            "    for value in values:\n"
            "        best = value if best is None else max(best, value)\n"
            "        out.append(best)\n"
            "    return out\n"
        )


def pick_edit_file(ws: Any) -> str:
    """A mid-sized file: the median chunk count among files with at least 3 chunks."""
    files = sorted(
        (len(f.chunk_ids), p) for p, f in ws.store.files.items() if len(f.chunk_ids) >= 3
    ) or sorted((len(f.chunk_ids), p) for p, f in ws.store.files.items())
    return files[len(files) // 2][1]


def warm_and_edit(ws_factory: Any, ws: Any, root: Path) -> dict[str, Any]:
    """Warm re-index (same process, fresh Workspace) and one-file edit to searchable."""
    out: dict[str, Any] = {}
    report = ws.index()
    out["warm_same_process"] = {"seconds": round(report.seconds, 3), **_report(report)}
    started = time.perf_counter()
    fresh = ws_factory()
    report = fresh.index()
    out["warm_fresh_workspace"] = {
        "seconds": round(time.perf_counter() - started, 3),
        "index_seconds": round(report.seconds, 3),
        "embedded": report.embedded,
    }
    # Load the query encoder and build the search snapshot first, as a running server has.
    ws.search("read a file", limit=10)
    target = pick_edit_file(ws)
    edit_file(root / target, 1)
    started = time.perf_counter()
    report = ws.index()
    indexed = time.perf_counter() - started
    results = ws.search(f"{PROBE}_1", limit=10)
    total = time.perf_counter() - started
    found = any(r.symbol.endswith(f"{PROBE}_1") for r in results)
    out["one_file_edit"] = {
        "file": target,
        "file_chunks": len(ws.store.files[target].chunk_ids),
        "reindex_seconds": round(indexed, 3),
        "edit_to_searchable_seconds": round(total, 3),
        "first_search_seconds": round(total - indexed, 3),
        "found": found,
        "embedded": report.embedded,
        "reused": report.reused,
        "timings": {k: round(v, 4) for k, v in report.timings.items()},
    }
    return out


def raw_throughput(encoder: Any, texts: list[str]) -> dict[str, Any]:
    """The model's own batch throughput on ``texts`` (same batch size and autocast)."""
    from codequest.encoders import HashingEncoder

    started = time.perf_counter()
    if isinstance(encoder, HashingEncoder):
        encoder.encode_documents(texts)
        how = "HashingEncoder.encode_documents (one call)"
    else:
        import torch

        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(encoder.bf16))
        with torch.inference_mode(), autocast:
            encoder._model.encode(
                texts,
                batch_size=encoder.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        how = (
            f"SentenceTransformer.encode (one call, batch_size {encoder.batch_size}, "
            f"{'bf16 autocast' if encoder.bf16 else 'fp32'})"
        )
    seconds = time.perf_counter() - started
    return {
        "texts": len(texts),
        "seconds": round(seconds, 3),
        "chunks_per_s": round(len(texts) / seconds, 2) if seconds else 0.0,
        "how": how,
    }


def bf16_check(encoder: Any, texts: list[str], rounds: int = 2) -> dict[str, Any]:
    """fp32 vs bf16 autocast throughput (best of ``rounds``, interleaved) and agreement."""
    from codequest.encoders.teacher import cpu_has_bf16

    original = encoder.bf16
    best: dict[str, float] = {"fp32": 0.0, "bf16": 0.0}
    vectors: dict[str, np.ndarray] = {}
    try:
        encoder.bf16 = False
        encoder.encode_documents(texts[:16])  # warm-up
        for _ in range(rounds):
            for name, flag in (("fp32", False), ("bf16", True)):
                encoder.bf16 = flag
                started = time.perf_counter()
                vectors[name] = encoder.encode_documents(texts)
                rate = len(texts) / (time.perf_counter() - started)
                best[name] = max(best[name], rate)
    finally:
        encoder.bf16 = original
    cos = np.sum(vectors["fp32"] * vectors["bf16"], axis=1)
    return {
        "texts": len(texts),
        "cpu_has_bf16": cpu_has_bf16(),
        "engine_default_bf16": bool(original),
        "fp32_chunks_per_s": round(best["fp32"], 2),
        "bf16_chunks_per_s": round(best["bf16"], 2),
        "speedup": round(best["bf16"] / best["fp32"], 3) if best["fp32"] else None,
        "cosine_mean": round(float(cos.mean()), 6),
        "cosine_min": round(float(cos.min()), 6),
        "rounds": rounds,
    }


# -- main ------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    from codequest.chunking import chunk_source
    from codequest.config import Config
    from codequest.encoders import document_text
    from codequest.workspace import Workspace

    root = stdlib_root()
    rels = stdlib_files(root)
    work = Path(tempfile.mkdtemp(prefix="codequest-index-bench-"))
    out: dict[str, Any] = {"stdlib": str(root), "python": sys.version.split()[0]}
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    try:
        # 1. full stdlib with the hashing encoder (or only the subset in quick mode)
        per_file_chunks: dict[str, int] = {}
        if args.full_stdlib:
            full = work / "full"
            lines = copy_files(root, rels, full)
            log(f"  full stdlib: {len(rels)} files, {lines} lines; hashing-encoder index ...")
            cfg = Config(model="hashing", cache_dir=str(work / "full-cache"))
            ws = Workspace(full, cfg)
            report = ws.index()
            per_file_chunks = {p: len(f.chunk_ids) for p, f in ws.store.files.items()}
            out["full_stdlib_hashing"] = {
                "files_found": len(rels),
                "lines": lines,
                "cold": {**_report(report), **_rates(report)},
                **warm_and_edit(lambda: Workspace(full, cfg), ws, full),
            }
            del ws
        # 2. the subset with the real model
        subset: list[str] = []
        chunks = 0
        for rel in rels:
            if chunks >= args.target_chunks:
                break
            n = per_file_chunks.get(rel)
            if n is None:
                text = (root / rel).read_text(encoding="utf-8", errors="replace")
                n = len(chunk_source(rel, "python", text))
            subset.append(rel)
            chunks += n
        sub = work / "subset"
        lines = copy_files(root, subset, sub)
        log(
            f"  subset: first {len(subset)} files in sorted order, ~{chunks} chunks, {lines} lines;"
            f" cold index with {args.model} ..."
        )
        cfg = Config(model=args.model, cache_dir=str(work / "subset-cache"))
        ws = Workspace(sub, cfg)
        rss_before = rss_mb()
        with RssSampler() as sampler:
            report = ws.index()
        encoder = ws.document_encoder()
        cold = {**_report(report), **_rates(report)}
        out["subset"] = {
            "files": len(subset),
            "first_file": subset[0] if subset else "",
            "last_file": subset[-1] if subset else "",
            "lines": lines,
            "model": args.model,
            "device": encoder.device,
            "bf16": bool(getattr(encoder, "bf16", False)),
            "batch_size": cfg.batch_size,
            "cold": cold,
            "memory": {
                "rss_before_mb": rss_before,
                "peak_rss_mb": round(sampler.peak / 2**20, 1),
                "sampling_interval_s": sampler.interval,
            },
        }
        # 3. raw throughput on the texts the pipeline embedded
        texts = []
        seen: set[str] = set()
        for rel in subset:
            text = (sub / rel).read_text(encoding="utf-8", errors="replace")
            for chunk in chunk_source(rel, "python", text):
                if chunk.content_hash not in seen:
                    seen.add(chunk.content_hash)
                    texts.append(document_text(chunk))
        log(f"  raw model throughput on {len(texts)} texts ...")
        raw = raw_throughput(encoder, texts)
        pipeline = cold["embedding_chunks_per_s"]
        out["subset"]["raw"] = raw
        out["subset"]["embedding_efficiency"] = (
            round(pipeline / raw["chunks_per_s"], 3) if raw["chunks_per_s"] else None
        )
        # 4. warm and edit on the subset
        log("  warm re-index and one-file edit ...")
        out["subset"].update(warm_and_edit(lambda: Workspace(sub, cfg), ws, sub))
        # 5. bf16 vs fp32
        if args.bf16_sample and args.model != "hashing" and encoder.device == "cpu":
            step = max(1, len(texts) // args.bf16_sample)
            sample = texts[::step][: args.bf16_sample]
            log(f"  fp32 vs bf16 on {len(sample)} texts ...")
            out["bf16"] = bf16_check(encoder, sample)
        # 6. extrapolation to the full stdlib
        full_info = out.get("full_stdlib_hashing")
        if full_info:
            total_chunks = full_info["cold"]["chunks"]
            rate = cold["chunks_per_s_excluding_model_load"]
            load = report.timings.get("model_load", 0.0)
            out["extrapolated_full_cold_index"] = {
                "chunks": total_chunks,
                "seconds": round(total_chunks / rate + load, 1) if rate else None,
                "basis": f"{rate} chunks/s (subset, excluding model load) + {load:.1f}s load",
            }
        out["torch_threads"] = _torch_threads()
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--target-chunks", type=int, default=3000)
    parser.add_argument("--full-stdlib", action="store_true", help="also index all of it (hashing)")
    parser.add_argument("--bf16-sample", type=int, default=256)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    result = run(args)
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
