"""Edits to searchable, and the server's memory, over the LSP on a real repository.

    codequest bench --sections edits [--edits-repo vapor] [--baseline-tree /tmp/base]
    python -m benchmarks.edits [REPO] [--tree /tmp/base --tree .] [--json OUT]

What an editor sees of a resident server, measured against a real ``codequest serve``
(started from a source tree, ``PYTHONPATH=<tree>/server``) on a copy of a pinned real
repository (``$REALREPOS_CHECKOUTS`` or ``~/.cache/codequest-realrepos/<name>``, checked
out by ``../shared/eval/realrepos-dev/tools/checkout.sh``):

1. **Full index.** A server opens the copy with no index and indexes it. Reported: the
   time to ``ready``, the server's peak RSS (``VmHWM`` from ``/proc``), its RSS once the
   run has ended, whether it has torch mapped, and the peak RSS of each child process it
   started (an embedding worker), sampled every 0.1 s from this process.
2. **Edits.** A fresh server opens the copy, whose index is now on disk. Once it is ready
   and has answered a search, a new file (a copy of one of the repository's own files under
   a new, unique name) is written and announced with ``workspace/didChangeWatchedFiles``,
   as VS Code's file watcher does; ``codequest/search`` is sent for the new file's name
   every 20 ms until a result lies in the new file. That is the first edit after start; two more
   follow, a second apart. Reported: each edit's seconds, the server's RSS after them, and
   whether torch is mapped.

With ``--tree`` (or ``--baseline-tree``) the same steps run against each tree in turn, so
two versions of the server are compared in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, children, load_average, maps_torch, mb, proc_status
from benchmarks.lsp_client import LspClient, LspError

DEFAULT_REPO = "vapor"
INDEX_TIMEOUT = 1800.0  # a cold index with the real model on 2 cores
EDIT_TIMEOUT = 60.0
POLL = 0.02  # seconds between searches while waiting for an edit
EDITS = 3
SAMPLE = 0.1  # seconds between memory samples
CREATED = 1  # FileChangeType.Created


def checkouts() -> Path:
    env = os.environ.get("REALREPOS_CHECKOUTS")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "codequest-realrepos"


def resolve_repo(name_or_path: str) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path.resolve()
    found = checkouts() / name_or_path
    if not found.is_dir():
        raise FileNotFoundError(
            f"no checkout of {name_or_path!r} at {found}; check it out with "
            "../shared/eval/realrepos-dev/tools/checkout.sh"
        )
    return found


def repo_commit(repo: Path) -> str | None:
    head = repo / ".git" / "HEAD"
    try:
        text = head.read_text().strip()
        if text.startswith("ref:"):
            return (repo / ".git" / text.split(None, 1)[1]).read_text().strip()
        return text
    except OSError:
        return None


class MemorySampler:
    """Samples a server's and its children's memory from this process (not the server)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}  # child pid -> highest VmHWM seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edits-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE):
            for child in children(self.pid):
                hwm = proc_status(child).get("VmHWM")
                if hwm is not None:
                    self.peaks[child] = max(self.peaks.get(child, 0), hwm)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def children_mb(self) -> list[float]:
        return [mb(kb) or 0.0 for _, kb in sorted(self.peaks.items())]


# -- the server --------------------------------------------------------------------------------
def start_server(tree: Path, folder: Path, settings: dict[str, Any], log: Any) -> LspClient:
    env = {**os.environ, "PYTHONPATH": str((tree / "server").resolve()), "PYTHONUNBUFFERED": "1"}
    client = LspClient(
        [sys.executable, "-m", "codequest", "serve"],
        cwd=folder,
        env=env,
        stderr=log,
        settings=settings,
    )
    client.initialize(folder, settings)
    return client


def wait_ready(client: LspClient, timeout: float) -> float:
    started = time.perf_counter()
    client.wait_indexed(timeout=timeout)
    return time.perf_counter() - started


def server_memory(pid: int) -> dict[str, Any]:
    status = proc_status(pid)
    return {
        "rss_mb": mb(status.get("VmRSS")),
        "peak_rss_mb": mb(status.get("VmHWM")),
        "torch_mapped": maps_torch(pid),
    }


def full_index(tree: Path, folder: Path, settings: dict[str, Any], log: Any) -> dict[str, Any]:
    shutil.rmtree(folder / ".codequest", ignore_errors=True)
    client = start_server(tree, folder, settings, log)
    try:
        with MemorySampler(client.pid) as sampler:
            seconds = wait_ready(client, INDEX_TIMEOUT)
            time.sleep(2 * SAMPLE)  # a last sample of a worker that is exiting
        status = client.request(
            "workspace/executeCommand", {"command": "codequest.status", "arguments": []}
        )
        folder_status = ((status or {}).get("folders") or [{}])[0]
        return {
            "seconds": round(seconds, 1),
            "chunks": folder_status.get("chunks"),
            "files": folder_status.get("indexedFiles"),
            "server": server_memory(client.pid),
            "children_peak_rss_mb": sampler.children_mb(),
        }
    finally:
        client.close()


@contextmanager
def _running(tree: Path, folder: Path, settings: dict[str, Any], log: Any) -> Iterator[LspClient]:
    client = start_server(tree, folder, settings, log)
    try:
        yield client
    finally:
        client.close()


def pick_sources(folder: Path, count: int) -> list[Path]:
    """Mid-sized source files of the repository's main language, to copy as new files."""
    from collections import Counter

    from codequest.discovery.languages import detect_language

    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and ".codequest" not in p.parts]
    languages = Counter(detect_language(p.name) for p in files)
    languages.pop(None, None)
    for prose in ("markdown", "text", "rst", "html", "json", "yaml"):
        languages.pop(prose, None)
    main = languages.most_common(1)[0][0]
    sized = sorted(
        (p for p in files if detect_language(p.name) == main and p.stat().st_size < 8000),
        key=lambda p: p.stat().st_size,
    )
    middle = len(sized) // 2
    return sized[middle : middle + count]


# camelCase and PascalCase identifiers: no keyword of any language has an inner capital.
_IDENTIFIER = re.compile(r"\b([A-Za-z][a-z0-9]*[A-Z]\w*)\b")


def new_code(text: str, suffix: str) -> str:
    """The file with its identifiers renamed, so its chunks are new code to embed (a plain
    copy would reuse every vector by content hash)."""
    return _IDENTIFIER.sub(lambda m: m.group(1) + suffix, text)


def _indexed_lines(client: LspClient) -> list[str]:
    messages = [
        str((m.get("params") or {}).get("message", ""))
        for m in client.notifications
        if m.get("method") == "window/logMessage"
    ]
    return [m for m in messages if m.startswith("CodeQuest: indexed ")]


def time_edit(client: LspClient, source: Path, number: int) -> dict[str, Any]:
    token = f"Cqprobe{number}x{os.getpid()}"
    target = source.with_name(f"{source.stem}_{token}{source.suffix}")
    target.write_text(new_code(source.read_text(encoding="utf-8"), token), encoding="utf-8")
    uri = target.resolve().as_uri()
    runs_before = len(_indexed_lines(client))
    started = time.perf_counter()
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri, "type": CREATED}]})
    searches = 0
    while True:
        reply = client.request("codequest/search", {"query": target.stem, "limit": 20})
        searches += 1
        if any(r.get("uri") == uri for r in (reply or {}).get("results", [])):
            seconds = time.perf_counter() - started
            break
        if time.perf_counter() - started > EDIT_TIMEOUT:
            raise LspError(f"edit {number} ({target.name}) not searchable after {EDIT_TIMEOUT} s")
        time.sleep(POLL)
    return {
        "file": target.name,
        "seconds": round(seconds, 3),
        "searches": searches,
        "runs_before": runs_before,
    }


def edits(tree: Path, folder: Path, settings: dict[str, Any], log: Any) -> dict[str, Any]:
    sources = pick_sources(folder, EDITS)
    with _running(tree, folder, settings, log) as client:
        ready = wait_ready(client, INDEX_TIMEOUT)
        client.request("codequest/search", {"query": "open a connection", "limit": 20})
        timed = []
        for number, source in enumerate(sources, start=1):
            timed.append(time_edit(client, source, number))
            time.sleep(1.0)
        client.request("codequest/search", {"query": "open a connection", "limit": 20})
        # Each edit's run, as the server logged it (one run per edit, in order; a log line
        # may arrive after the search that found the file).
        lines = _indexed_lines(client)[timed[0]["runs_before"] :]
        for number, edit in enumerate(timed):
            del edit["runs_before"]
            edit["server_log"] = lines[number] if number < len(lines) else ""
        return {
            "ready_s": round(ready, 2),
            "edits": timed,
            "first_edit_s": timed[0]["seconds"],
            "later_edits_s": [e["seconds"] for e in timed[1:]],
            "server": server_memory(client.pid),
            "children": sorted(children(client.pid)),
        }


def run_tree(tree: Path, repo: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Both steps against one source tree, on a fresh copy of the repository."""
    with tempfile.TemporaryDirectory(prefix="codequest-edits-") as tmp:
        folder = Path(tmp) / repo.name
        shutil.copytree(repo, folder, ignore=shutil.ignore_patterns(".git", ".codequest"))
        log_path = Path(tmp) / "serve.log"
        out: dict[str, Any] = {"tree": str(tree), "load_start": load_average()}
        with open(log_path, "wb") as log:
            try:
                out["full_index"] = full_index(tree, folder, settings, log)
                out["edit_to_searchable"] = edits(tree, folder, settings, log)
                out["status"] = "ok"
            except (LspError, OSError) as err:
                out.update({"status": "error", "reason": str(err)})
        if out["status"] != "ok":
            out["server_log_tail"] = log_path.read_text(errors="replace").splitlines()[-10:]
        out["load_end"] = load_average()
    return out


def run_edits(
    repo: str = DEFAULT_REPO,
    *,
    trees: Sequence[Path] = (REPO_ROOT,),
    model: str = "all-MiniLM-L6-v2",
) -> dict[str, Any]:
    """The section's result: the repository, and both steps for each tree."""
    try:
        path = resolve_repo(repo)
    except FileNotFoundError as err:
        return {"status": "unavailable", "reason": str(err)}
    settings = {"model": model, "queryEncoder": "auto"}
    return {
        "status": "ok",
        "repo": path.name,
        "repo_commit": repo_commit(path),
        "settings": settings,
        "trees": [run_tree(tree.resolve(), path, settings) for tree in trees],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.edits", description=__doc__)
    parser.add_argument("repo", nargs="?", default=DEFAULT_REPO)
    parser.add_argument("--tree", action="append", type=Path, help="source tree (repeatable)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run_edits(args.repo, trees=args.tree or [REPO_ROOT], model=args.model)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if result.get("status") == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
