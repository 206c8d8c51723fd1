"""A fork server for the fault-injection tests in test_reliability.py (not a test module).

Started once per test with ``python reliability_child.py``; it imports the engine, then
reads commands on stdin, one JSON object per line, and forks a worker for each, so a
killed worker costs a fork instead of a fresh interpreter. Workers report events on stdout
as ``<pid> <event> [detail]`` lines. Commands:

``{"mode": "index-loop", "root": ..., "seed": ...}``
    mutate the project (edit, add, delete, rename files), index, repeat until killed.
``{"mode": "index-loop", ..., "kill_at": N}``
    the same, but SIGKILL itself at the N-th file-system step inside ``Store.save``
    (fsync, rename, unlink): deterministic crash points in the commit sequence.
``{"mode": "index-once", "root": ...}``
    index once and exit (two at once exercise the writer lock).
``{"mode": "save-loop", "root": ..., "seconds": ...}``
    load the store and save it again and again (a writer racing readers).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from codequest.config import Config  # noqa: E402
from codequest.index.store import Store  # noqa: E402
from codequest.workspace import Workspace  # noqa: E402

CONFIG = Config(model="hashing")


# Long enough that two functions never share a chunk: each function is one chunk.
DOC = "Combine the value with the length of the other one and hand both on. " * 5


def module_text(rng: random.Random, functions: int = 6) -> str:
    out = []
    for _ in range(functions):
        name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{rng.randint(0, 99999)}"
        out.append(
            f"def {name}(value, other=None):\n"
            f'    """{DOC}"""\n'
            f"    total = value * {rng.randint(1, 9)} + len(str(other))\n"
            f"    return {rng.choice(WORDS)}(total, {rng.randint(0, 1000)})\n\n\n"
        )
    return "".join(out)


WORDS = (
    "read",
    "parse",
    "write",
    "load",
    "save",
    "fetch",
    "retry",
    "compute",
    "hash",
    "merge",
    "split",
    "join",
    "encode",
    "decode",
    "sort",
    "filter",
    "reduce",
    "render",
    "validate",
    "normalize",
    "cache",
    "lookup",
    "resolve",
    "connect",
    "send",
)


def make_project(root: Path, files: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(files):
        path = root / f"pkg{i % 10}" / f"mod_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module_text(rng))


def mutate(root: Path, rng: random.Random) -> None:
    files = sorted(p for p in root.rglob("*.py") if ".codequest" not in p.parts)
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        if roll < 0.4 and files:  # edit one function
            path = rng.choice(files)
            text = path.read_text()
            path.write_text(text.replace("return ", f"return {rng.randint(0, 9)} + ", 1))
        elif roll < 0.6 and len(files) > 20:  # delete a file
            path = files.pop(rng.randrange(len(files)))
            path.unlink()
        elif roll < 0.8:  # add a file
            path = root / f"pkg{rng.randint(0, 9)}" / f"new_{rng.randint(0, 10**9)}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_text(module_text(rng, functions=rng.randint(1, 8)))
        elif files:  # rename a file
            path = files.pop(rng.randrange(len(files)))
            path.rename(path.with_name(f"moved_{rng.randint(0, 10**9)}.py"))


def say(event: str, detail: Any = "") -> None:
    os.write(1, f"{os.getpid()} {event} {json.dumps(detail)}\n".encode())


def arm_crash_points(kill_at: int) -> None:
    """SIGKILL this process at the ``kill_at``-th fsync/rename/unlink inside Store.save."""
    state = {"in_save": False, "steps": 0}

    def step() -> None:
        if state["in_save"]:
            state["steps"] += 1
            if state["steps"] >= kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    def wrap(fn: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            step()
            result = fn(*args, **kwargs)
            step()
            return result

        return wrapped

    os.fsync = wrap(os.fsync)
    os.replace = wrap(os.replace)
    os.unlink = wrap(os.unlink)
    original_save = Store.save

    def save(self: Store) -> None:
        state["in_save"] = True
        try:
            original_save(self)
        finally:
            state["in_save"] = False

    Store.save = save  # type: ignore[method-assign]


def announce_saves() -> None:
    original_save = Store.save

    def save(self: Store) -> None:
        say("saving", self.generation)
        original_save(self)
        say("saved", self.generation)

    Store.save = save  # type: ignore[method-assign]


def worker(command: dict[str, Any]) -> None:
    root = Path(command["root"])
    mode = command["mode"]
    if mode == "save-loop":
        # Saves (each announced) until the file ``stop`` names exists.
        store = Store.load(root / ".codequest")
        announce_saves()
        say("ready")
        stop = Path(command["stop"])
        saves = 0
        while not stop.exists():
            store.save()
            saves += 1
        say("done", saves)
        return
    ws = Workspace(root, CONFIG)
    if mode == "index-once":
        report = ws.index()
        say("done", {"files": report.files, "chunks": report.chunks})
        return
    rng = random.Random(int(command["seed"]))
    if command.get("kill_at"):
        arm_crash_points(int(command["kill_at"]))
    announce_saves()
    say("ready")
    while True:
        mutate(root, rng)
        ws.index()
        say("indexed")


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make_project(Path(sys.argv[2]), int(sys.argv[3]), seed=1)
        return
    say("zygote")
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                worker(command)
            except BaseException:  # noqa: BLE001 - reported to the test, which fails
                say("error", traceback.format_exc())
                code = 1
            os._exit(code)
        say("forked", pid)


if __name__ == "__main__":
    main()
