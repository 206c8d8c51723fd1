"""Shared helpers: where things live, progress bars, percentiles, machine and commit facts."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codequest.encoders.models import codequest_home

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 1234


# -- locations -----------------------------------------------------------------------------
def eval_root() -> Path:
    """The evaluation sets: ``$CODEQUEST_EVAL``, else the first ``shared/eval`` found beside
    the clone or a folder above it (a git worktree sits deeper than its main checkout)."""
    env = os.environ.get("CODEQUEST_EVAL")
    if env:
        return Path(env).expanduser()
    for parent in REPO_ROOT.parents:
        if (parent / "shared" / "eval").is_dir():
            return parent / "shared" / "eval"
    return REPO_ROOT.parent / "shared" / "eval"


def bench_cache() -> Path:
    """Embedding caches, synthetic stores and materialised corpora (``$CODEQUEST_HOME``)."""
    path = codequest_home() / "bench-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_texts(texts: Iterable[str]) -> str:
    """A digest of an ordered list of texts (length-prefixed, so boundaries count)."""
    h = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)


# -- statistics ----------------------------------------------------------------------------
def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation), mean, min and max, in milliseconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "n": int(len(ms)),
        "p50_ms": round(float(p50), 4),
        "p95_ms": round(float(p95), 4),
        "p99_ms": round(float(p99), 4),
        "mean_ms": round(float(ms.mean()), 4),
        "min_ms": round(float(ms.min()), 4),
        "max_ms": round(float(ms.max()), 4),
    }


def round_stats(rounds: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Stats over every sample, per round, and of the least disturbed round (lowest p99).

    The machine may be shared: a burst of someone else's work lands in one round, so the
    least disturbed round shows what the code does and the pooled numbers what a user saw.
    """
    pooled = [x for r in rounds for x in r]
    per_round = [latency_stats(r) for r in rounds if r]
    out: dict[str, Any] = {**latency_stats(pooled), "rounds": len(per_round)}
    if len(per_round) > 1:
        out["per_round"] = [{k: r[k] for k in ("p50_ms", "p95_ms", "p99_ms")} for r in per_round]
        out["least_disturbed_round"] = min(per_round, key=lambda r: r["p99_ms"])
    return out


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default) in MiB; needs psutil."""
    import psutil

    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return -1.0


# -- progress ------------------------------------------------------------------------------
class Progress:
    """A progress bar on stderr when it is a terminal; a start and an end line otherwise."""

    def __init__(self, label: str, total: int, *, enabled: bool = True) -> None:
        self.label = label
        self.total = max(0, total)
        self.done = 0
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        if enabled and not self.tty:
            sys.stderr.write(f"  {label} ({total}) ...\n")
            sys.stderr.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if not self.tty:
            if self.enabled and now - max(self.last, self.started) >= 30:
                self.last = now
                sys.stderr.write(f"  {self.label}: {self.done}/{self.total}\n")
                sys.stderr.flush()
            return
        if self.done < self.total and now - self.last < 0.1:
            return
        self.last = now
        width = 28
        frac = self.done / self.total if self.total else 1.0
        filled = int(width * min(1.0, frac))
        elapsed = now - self.started
        sys.stderr.write(
            f"\r  {self.label:<34} [{'#' * filled}{'-' * (width - filled)}] "
            f"{self.done}/{self.total} {elapsed:5.1f}s"
        )
        sys.stderr.flush()

    def close(self, note: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        if self.tty:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(f"  {self.label}: done in {elapsed:.1f}s{('  ' + note) if note else ''}\n")
        sys.stderr.flush()


@contextlib.contextmanager
def stage(label: str, *, enabled: bool = True) -> Iterator[None]:
    """Announce one benchmark step on stderr and say how long it took."""
    started = time.monotonic()
    if enabled:
        sys.stderr.write(f"- {label} (load {load_average()})\n")
        sys.stderr.flush()
    yield
    if enabled:
        sys.stderr.write(f"  ... {time.monotonic() - started:.1f}s\n")
        sys.stderr.flush()


# -- facts about the run -------------------------------------------------------------------
def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def git_info() -> dict[str, Any]:
    sha = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "server"))
    return {"sha": sha or "unknown", "short": sha[:8] if sha else "nogit", "dirty_server": dirty}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_slug() -> str:
    """A filename-safe machine name: the CPU model, then the host name."""
    name = f"{cpu_model()}-{socket.gethostname()}"
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:48] or "machine"


def _total_memory_gb() -> float:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return -1.0


def machine_info() -> dict[str, Any]:
    from codequest.encoders.teacher import cpu_has_bf16

    return {
        "hostname": socket.gethostname(),
        "slug": machine_slug(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_bf16": cpu_has_bf16(),
        "memory_gb": _total_memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - absent or odd metadata: report None
        return None


def versions() -> dict[str, str | None]:
    names = [
        "codequest",
        "torch",
        "sentence-transformers",
        "transformers",
        "onnxruntime",
        "tokenizers",
        "usearch",
        "numpy",
        "pygls",
    ]
    return {name: _version(name) for name in names}


def thread_info() -> dict[str, Any]:
    from codequest.encoders.onnx_query import default_threads

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "onnxruntime_intra_op": default_threads(),
        "usearch": "all cores (threads=0) for batch add; 1 per single-query search",
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch_intra_op"] = torch.get_num_threads()
    return info


# -- other processes, from /proc (Linux) ------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB ({} once it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except (OSError, ValueError):
        return {}
    return out


def children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                found.update(int(p) for p in fh.read().split())
    except (OSError, ValueError):
        pass
    return found


def maps_torch(pid: int) -> bool | None:
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as fh:
            return any("libtorch" in line for line in fh)
    except OSError:
        return None


def mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)
