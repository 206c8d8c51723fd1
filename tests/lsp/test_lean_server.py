"""The lean resident server: bulk runs in a worker process, edits without torch.

Servers here run ``lean_server.py``: the real server with the small-run threshold set (0
sends every run to an embedding worker), index runs slowed down, or torch made
unimportable in the server process. Worker processes are found as the server's children
in ``/proc`` (Linux).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from benchmarks.common import children, maps_torch
from lsp_helpers import (
    LEAN_SERVER,
    Client,
    eventually,
    search,
    start,
    status,
    stop,
    wait_ready,
    write_tree,
)
from lsprotocol import types

from codequest.chunking import chunk_source
from codequest.index.store import Store

pytestmark = [
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

FILES = 120
DELAY = 0.04  # seconds a file: a run of FILES files takes about 5 s


def handlers(count: int) -> dict[str, str]:
    body = (
        "def handler_{0:04d}(request):\n    return request.value + {0}\n\n\n"
        "class Model{0:04d}:\n    size = {0}\n"
    )
    return {f"pkg/handler_{i:04d}.py": body.format(i) for i in range(count)}


def server_pid(client: Client) -> int:
    return int(client._server.pid)  # type: ignore[union-attr]


def names(reply: dict[str, Any]) -> list[str]:
    return [r["name"] for r in reply["results"]]


async def test_bulk_run_in_a_worker_answers_searches_and_survives_its_kill(tmp_path: Path):
    root = write_tree(tmp_path / "project", handlers(FILES))
    command = [*LEAN_SERVER, "--small-run", "0", "--delay", str(DELAY), "--"]
    client = await start(
        {"project": root}, {"model": "hashing", "cacheDir": ".cq"}, command=command
    )
    try:
        pid = server_pid(client)

        async def worker() -> int | None:
            found = children(pid)
            return next(iter(found)) if found else None

        async def indexed_at_least(count: int) -> bool:
            folder = (await status(client))["folders"][0]
            return bool(folder["state"] == "indexing" and folder["indexedFiles"] >= count)

        # A search while the worker embeds is answered at once, from what is stored so far.
        worker_pid = await eventually(worker, what="the embedding worker to start")
        await eventually(lambda: indexed_at_least(40), what="40 files to be indexed")
        reply = await search(client, {"query": "handler_0003", "limit": 3})
        assert reply["index"]["state"] == "indexing"
        assert names(reply)[0] == "handler_0003"
        assert await worker() == worker_pid

        # The worker is killed mid-run: the run fails and says why, the store stays valid
        # with what was indexed, and searches go on.
        os.kill(worker_pid, signal.SIGKILL)

        async def failed() -> dict[str, Any] | None:
            folder = (await status(client))["folders"][0]
            return folder if folder["state"] == "error" else None

        folder = await eventually(failed, what="the run to fail")
        assert "SIGKILL" in folder["problem"], folder
        stored = Store.load(root / ".cq")
        assert 0 < len(stored.files) < FILES
        assert names(await search(client, {"query": "handler_0003", "limit": 1})) == [
            "handler_0003"
        ]

        # The next run goes on from there, with a new worker, and ends it.
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codequest.reindex", arguments=[root.as_uri()])
        )
        assert (await wait_ready(client))["folders"][0]["indexedFiles"] == FILES
        assert len(Store.load(root / ".cq").files) == FILES
        reply = await search(client, {"query": "handler_0119", "limit": 1})
        assert reply["index"]["state"] == "ready" and names(reply) == ["handler_0119"]

        async def no_worker() -> bool:
            return not children(pid)

        await eventually(no_worker, what="the worker to exit with its run")
    finally:
        await stop(client)


NEW_FILE = """\
def levenshtein_distance(first, second):
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i]
        for j, b in enumerate(second, 1):
            current.append(min(current[j - 1] + 1, previous[j] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]
"""


@pytest.mark.slow
async def test_an_edit_is_searchable_without_torch_in_the_server(
    tmp_path: Path, tiny_teacher: Path
):
    """The tiny BERT teacher: the exports it needs are made in child processes, the edit is
    embedded by its ONNX export in the server, and torch never enters the server."""
    root = write_tree(tmp_path / "project", handlers(6))
    attempts = tmp_path / "torch-imports.txt"
    client = await start(
        {"project": root},
        {"model": str(tiny_teacher), "cacheDir": ".cq"},
        command=[*LEAN_SERVER, "--forbid-torch", str(attempts), "--"],
        env={"CODEQUEST_HOME": str(tmp_path / "home")},  # nothing exported yet
    )
    try:
        await wait_ready(client)
        new = root / "text" / "distance.py"
        new.parent.mkdir()
        new.write_text(NEW_FILE, encoding="utf-8")
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=new.as_uri(), type=types.FileChangeType.Created)]
            )
        )

        async def found() -> bool:
            reply = await search(client, {"query": "levenshtein_distance", "limit": 3})
            return "levenshtein_distance" in names(reply)

        await eventually(found, what="the new file in the results")
        assert not attempts.exists(), attempts.read_text()[-3000:]
        assert maps_torch(server_pid(client)) is False
    finally:
        await stop(client)

    # The edit's vector is the torch teacher's, to bf16/f16 storage precision.
    from codequest.encoders import document_text
    from codequest.encoders.teacher import SentenceTransformerEncoder

    store = Store.load(root / ".cq")
    (chunk,) = chunk_source("text/distance.py", "python", NEW_FILE)
    (cid,) = store.files["text/distance.py"].chunk_ids
    _, stored = store.vectors_of(np.array([cid]))
    teacher = SentenceTransformerEncoder(str(tiny_teacher), device="cpu", bf16=False)
    expected = teacher.encode_documents([document_text(chunk)])[0]
    assert float(stored[0] @ expected) / float(np.linalg.norm(stored[0])) > 0.999
