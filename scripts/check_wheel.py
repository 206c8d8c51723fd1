"""Install CodeQuest the way a user does, and check what a plain install promises.

Builds the wheel, installs it without extras into a fresh virtual environment (the CPU
build of torch first, as ``scripts/setup.sh`` does), points ``CODEQUEST_HOME`` at an empty
folder and keeps the Hugging Face hub offline. Then, in that environment:

1. the wheel ships the default student's delta (``codequest/data/students/**``), and no
   extra came with it (no peft, no model2vec);
2. ``codequest index``, ``search`` and ``status`` on a small project (a copy of this
   project's ``server/codequest/lsp``) succeed, ``status`` names the shipped default
   student, the search finds what it should, and stderr carries no warning and no
   traceback;
3. a new process loads the built student without importing torch;
4. ``codequest serve`` answers ``codequest/search`` through the student with a clean
   stderr and without loading torch; the round trip's p50 is printed (not asserted: it
   depends on the machine).

``make test`` runs it (``make wheel-check``) and keeps the checked wheel in ``dist/``. It
prints one line per check and exits 1 at the first that fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks: the one LSP client and the latency statistics

from benchmarks.common import latency_stats  # noqa: E402
from benchmarks.lsp_client import LspClient  # noqa: E402

TORCH = "torch==2.13.0"  # the CPU build; an unpinned torch pulls a multi-GB CUDA build
STUDENT = "lora32-keep025-cos"
DELTA = f"codequest/data/students/{STUDENT}/delta.npz"
PROJECT_SOURCE = ROOT / "server" / "codequest" / "lsp"
# A query and the file its first result must come from.
CHECK_QUERY = ("read one message framed by a Content-Length header from a stream", "transport.py")
LSP_QUERIES = [
    "read one message framed by a Content-Length header",
    "debounce file change notifications before re-indexing",
    "report indexing progress to the editor",
    "parse the settings the editor sends",
    "convert a chunk's lines into an editor range",
    "find workspace symbols by name prefix",
    "cancel an index run that is in progress",
    "load the query encoder in the background",
    "answer a search on the thread that reads stdin",
    "register file watchers with the client",
    "show a warning message to the user",
    "what happens when the client disconnects",
    "map chunk kinds to symbol kinds",
    "reindex a folder when the command is run",
    "utf-16 length of a line of text",
]


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"check_wheel: {message}", flush=True)


def run(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )


def require(ok: bool, what: str, detail: str = "") -> None:
    if not ok:
        raise CheckFailed(f"{what}{': ' + detail[-3000:] if detail else ''}")


def quiet(stderr: str) -> bool:
    """Nothing on stderr that a user would read as a problem."""
    lowered = stderr.lower()
    return "warning" not in lowered and "traceback" not in lowered


def loads_torch(pid: int) -> bool | None:
    """Whether a running process has torch's library mapped (None: cannot tell here)."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return None


# -- steps ---------------------------------------------------------------------------------
def source_copy(target: Path) -> Path:
    """The checkout's files (tracked, and new ones git does not ignore), copied to
    ``target``: a build there cannot pick up a stale ``build/`` folder or leave one here."""
    listed = run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    )
    require(listed.returncode == 0, "git ls-files failed", listed.stderr)
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def build_wheel(dist: Path, source: Path) -> Path:
    # In place when this interpreter has a recent setuptools (no download); otherwise pip
    # fetches the build requirements from the package index.
    in_place = ["--no-build-isolation"] if setuptools_major() >= 68 else []
    done = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *in_place,
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
    )
    require(done.returncode == 0, "building the wheel failed", done.stderr)
    (wheel,) = dist.glob("codequest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    require(DELTA in names, f"the wheel lacks {DELTA}", "\n".join(sorted(names)))
    require(f"codequest/data/students/{STUDENT}/card.json" in names, "the wheel lacks the card")
    say(f"built {wheel.name}; it ships {DELTA}")
    return wheel


def setuptools_major() -> int:
    try:
        import setuptools
    except ImportError:
        return 0
    return int(setuptools.__version__.split(".")[0])


def make_venv(venv: Path, wheel: Path) -> Path:
    python = venv / "bin" / "python"
    done = run([sys.executable, "-m", "venv", str(venv)])
    require(done.returncode == 0, "creating the virtual environment failed", done.stderr)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for what in (TORCH, str(wheel)):  # torch first, so the wheel's dependency is satisfied
        started = time.monotonic()
        done = run([*pip, what])
        require(done.returncode == 0, f"pip install {what} failed", done.stderr)
        say(f"installed {Path(what).name} in {time.monotonic() - started:.0f} s")
    for extra in ("peft", "model2vec"):
        found = run(
            [str(python), "-c", f"import importlib.util as u; print(u.find_spec({extra!r}))"]
        )
        require(found.stdout.strip() == "None", f"{extra} is installed without an extra")
    return python


def user_env(venv: Path, home: Path) -> dict[str, str]:
    """What a user's shell has: the venv on PATH, nothing of this checkout or its tests."""
    dropped = ("PYTHONPATH", "PYTHONWARNINGS", "VIRTUAL_ENV", "CODEQUEST_DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        CODEQUEST_HOME=str(home),
        HF_HUB_OFFLINE="1",
    )
    return env


def check_cli(venv: Path, env: dict[str, str], project: Path, work: Path) -> None:
    codequest = str(venv / "bin" / "codequest")
    started = time.monotonic()
    done = run([codequest, "index", str(project)], env=env, cwd=work)
    require(done.returncode == 0 and quiet(done.stderr), "codequest index", done.stderr)
    say(
        f"indexed: {done.stdout.strip()} (with the first-use build: "
        f"{time.monotonic() - started:.0f} s)"
    )

    query, expected = CHECK_QUERY
    done = run([codequest, "search", query, "--path", str(project), "--json"], env=env, cwd=work)
    require(done.returncode == 0 and quiet(done.stderr), "codequest search", done.stderr)
    results = json.loads(done.stdout)
    require(
        bool(results) and results[0]["path"] == expected,
        f"the search for {query!r} should find {expected} first",
        done.stdout,
    )
    say(f"search: {results[0]['path']}:{results[0]['start_line']} {results[0]['symbol']}")

    done = run([codequest, "status", "--path", str(project), "--json"], env=env, cwd=work)
    require(done.returncode == 0 and quiet(done.stderr), "codequest status", done.stderr)
    encoder = json.loads(done.stdout)["queryEncoder"]
    require(encoder == STUDENT, f"the query encoder is {encoder!r}, not {STUDENT!r}")
    say(f"status: queryEncoder {encoder}; stderr of index, search and status: clean")

    probe = (
        "import sys\n"
        "from codequest.config import Config\n"
        "from codequest.encoders import document_encoder_identity, load_query_encoder\n"
        "config = Config()\n"
        "encoder = load_query_encoder(config, document_encoder_identity(config))\n"
        "encoder.encode_query('x')\n"
        "print(encoder.name, 'torch' in sys.modules)\n"
    )
    done = run([str(venv / "bin" / "python"), "-c", probe], env=env, cwd=work)
    require(done.returncode == 0, "loading the student", done.stderr)
    require(done.stdout.split() == [STUDENT, "False"], "serving imported torch", done.stdout)
    say("a new process serves the built student without importing torch")


def server_status(client: LspClient) -> dict[str, Any]:
    reply = client.request(
        "workspace/executeCommand", {"command": "codequest.status", "arguments": []}
    )
    (folder,) = reply["folders"]
    return dict(folder)


def check_server(
    venv: Path, env: dict[str, str], project: Path, work: Path, searches: int
) -> dict[str, Any]:
    log_path = work / "serve.log"
    with open(log_path, "wb") as log:
        client = LspClient(
            [str(venv / "bin" / "codequest"), "serve"], cwd=project, env=env, stderr=log
        )
        try:
            deadline = time.monotonic() + 600
            client.initialize(project, {})
            client.wait_for(
                lambda m: (
                    m.get("method") == "codequest/indexStatus"
                    and (m.get("params") or {}).get("state") in ("ready", "error")
                ),
                timeout=600,
            )
            folder = server_status(client)
            while folder["queryEncoder"] == "loading" and time.monotonic() < deadline:
                time.sleep(0.2)
                folder = server_status(client)
            require(folder["state"] == "ready", "the server's index", json.dumps(folder))
            require(
                folder["queryEncoder"] == STUDENT,
                f"the server's query encoder is {folder['queryEncoder']!r}",
            )
            first = client.request("codequest/search", {"query": CHECK_QUERY[0], "limit": 20})
            require(
                first["results"][0]["uri"].endswith("/" + CHECK_QUERY[1]),
                "the server's first result",
                json.dumps(first["results"][:3]),
            )
            for query in LSP_QUERIES:  # warm-up
                client.request("codequest/search", {"query": query, "limit": 20})
            seconds = []
            for i in range(searches):
                query = LSP_QUERIES[i % len(LSP_QUERIES)]
                t0 = time.perf_counter()
                client.request("codequest/search", {"query": query, "limit": 20})
                seconds.append(time.perf_counter() - t0)
            torch_loaded = loads_torch(client.pid)
        finally:
            client.close()
    logged = log_path.read_text(errors="replace")
    require(quiet(logged), "codequest serve wrote a warning or a traceback", logged)
    require(torch_loaded is not True, "codequest serve loaded torch to answer searches")
    stats = latency_stats(seconds)
    say(
        f"serve: queryEncoder {STUDENT}, stderr clean, torch "
        f"{'not loaded' if torch_loaded is False else 'not checked (no /proc)'}; "
        f"codequest/search p50 {stats['p50_ms']:.2f} ms, p95 {stats['p95_ms']:.2f} ms "
        f"over {stats['n']} searches"
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--searches", type=int, default=300, help="timed LSP searches")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--dist", type=Path, help="copy the checked wheel into this folder")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="codequest-wheel-"))
    try:
        wheel = build_wheel(work / "dist", source_copy(work / "source"))
        venv = work / "venv"
        make_venv(venv, wheel)
        project = work / "project"
        shutil.copytree(PROJECT_SOURCE, project, ignore=shutil.ignore_patterns("__pycache__"))
        env = user_env(venv, work / "home")
        check_cli(venv, env, project, work)
        check_server(venv, env, project, work, args.searches)
        if args.dist is not None:
            args.dist.mkdir(parents=True, exist_ok=True)
            say(f"the checked wheel: {shutil.copy2(wheel, args.dist / wheel.name)}")
    except CheckFailed as failed:
        print(f"check_wheel: FAILED: {failed}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say("all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
