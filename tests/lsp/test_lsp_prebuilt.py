"""The server on a prebuilt index (``indexPath``): nothing is embedded, local edits still count."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lsp_helpers import (
    ALPHA_FILES,
    eventually,
    hashing_options,
    search,
    start,
    status,
    stop,
    wait_logged,
    wait_ready,
    write_tree,
)
from lsprotocol import types

from codequest.config import Config
from codequest.prebuilt import build_prebuilt

pytestmark = pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


async def test_prebuilt_index_is_used_and_local_edits_overlay_it(tmp_path: Path):
    root = write_tree(tmp_path / "repo", ALPHA_FILES)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    prebuilt = tmp_path / "prebuilt"
    build_prebuilt(root, prebuilt, Config(model="hashing"))

    options = hashing_options(tmp_path / "cache", indexPath=str(prebuilt))
    client = await start({"repo": root}, options)
    try:
        reply = await wait_ready(client)
        (folder,) = reply["folders"]
        assert folder["problem"] == "" and folder["indexedFiles"] == 4
        indexed = await wait_logged(client, "CodeQuest: indexed ")
        assert ", 0 embedded," in indexed[-1]
        hits = (await search(client, {"query": "formatCurrency", "limit": 1}))["results"]
        assert hits[0]["uri"] == (root / "web" / "currency.ts").as_uri()

        # A local edit goes into the overlay; the base's version of the file stops showing.
        edited = root / "web" / "currency.ts"
        edited.write_text("export function formatMoney(cents: number) {\n  return cents;\n}\n")
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=edited.as_uri())
            )
        )

        async def overlaid() -> bool:
            reply = await search(client, {"query": "formatMoney", "limit": 1})
            return bool(reply["results"]) and reply["results"][0]["name"] == "formatMoney"

        await eventually(overlaid, what="the edit to reach the overlay")
        reply = await search(client, {"query": "formatCurrency", "limit": 5})
        assert "formatCurrency" not in [r["name"] for r in reply["results"]]
        assert (await status(client))["folders"][0]["indexedFiles"] == 4
    finally:
        await stop(client)
