"""End-to-end helpers: the real server (``python -m codequest serve``) and a pytest-lsp client.

The client impersonates VS Code (``client_capabilities("visual-studio-code")``), keeps
custom replies as plain JSON (the server's own converter), and records what the server
sends it: ``codequest/indexStatus`` notifications, capability registrations, progress,
and messages. The project is written into ``tmp_path`` as two workspace folders whose
names have a space and non-ASCII characters, so every URI the server sends is checked
for proper encoding. The built-in hashing encoder needs no weights.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.protocol import JsonRPCRequestMessage
from pytest_lsp import (
    ClientServerConfig,
    LanguageClient,
    client_capabilities,
)
from pytest_lsp.client import register_lsp_features

from codequest.lsp.protocol import plain_converter
from helpers import write_tree

SERVER_COMMAND = [sys.executable, "-m", "codequest", "serve"]
# The same server, its index runs slowed down (seconds per file follow).
SLOW_SERVER = [sys.executable, str(Path(__file__).with_name("slow_server.py"))]
# The same server with the lean-server knobs of lean_server.py (options follow).
LEAN_SERVER = [sys.executable, str(Path(__file__).with_name("lean_server.py"))]
WAIT = 30.0  # seconds; generous for a loaded CI machine, a passing run takes far less

ALPHA = "alpha proj"  # a space
BETA = "béta é"  # non-ASCII and a space

# Lines matter: tests check ranges against these files. Keep them stable.
ALPHA_FILES: dict[str, str] = {
    "app/config_loader.py": '''\
        import json


        def parse(text):
            return json.loads(text)


        class ConfigLoader:
            """Reads settings files."""

            def load_config(self, path):
                with open(path, encoding="utf-8") as fh:
                    return parse(fh.read())
        ''',
    "web/email.js": """\
        function parseEmailAddress(text) {
          const match = /^([^@]+)@(.+)$/.exec(text);
          return match ? { user: match[1], domain: match[2] } : null;
        }

        module.exports = { parseEmailAddress };
        """,
    "web/currency.ts": """\
        export function formatCurrency(amount: number, currency: string): string {
          return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
        }
        """,
    "tests/test_config_loader.py": """\
        def test_parse_reads_json():
            assert True
        """,
}
BETA_FILES: dict[str, str] = {
    "cmd/hash.go": """\
        package main

        import (
        \t"crypto/sha256"
        \t"encoding/hex"
        )

        // HashPassword returns the hex SHA-256 digest of a password with its salt.
        func HashPassword(password string, salt string) string {
        \tsum := sha256.Sum256([]byte(salt + password))
        \treturn hex.EncodeToString(sum[:])
        }
        """,
    "lib/naïve_parse.py": """\
        def parse_duration(text):
            \"\"\"Parse '1h30m' into seconds — naïvely.\"\"\"
            hours, _, rest = text.partition("h")
            return int(hours) * 3600 + int(rest.rstrip("m") or 0) * 60


        def celebrate_release(name):
            return f"shipped {name} 🎉 — naïve but done"
        """,
}


def make_project(base: Path) -> dict[str, Path]:
    return {
        ALPHA: write_tree(base / ALPHA, ALPHA_FILES),
        BETA: write_tree(base / BETA, BETA_FILES),
    }


# -- the client --------------------------------------------------------------------------
class Client(LanguageClient):
    """pytest-lsp's client, recording what the CodeQuest server sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_result: types.InitializeResult | None = None
        self.index_statuses: list[dict[str, Any]] = []
        self.registrations: list[types.Registration] = []
        self.progress_created: list[types.ProgressToken] = []


def make_client() -> Client:
    client = Client(converter_factory=plain_converter)
    register_lsp_features(client)

    @client.feature("codequest/indexStatus")
    def index_status(ls: Client, params: Any) -> None:
        ls.index_statuses.append(params)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(ls: Client, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)

    return client


def vscode_capabilities(*, progress: bool = True) -> types.ClientCapabilities:
    capabilities = client_capabilities("visual-studio-code")
    if not progress and capabilities.window is not None:
        capabilities.window.work_done_progress = False
    return capabilities


async def start(
    folders: Mapping[str, Path],
    init_options: dict[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    capabilities: types.ClientCapabilities | None = None,
    index_delay: float = 0.0,
    command: list[str] | None = None,
) -> Client:
    """Start a server, initialize it on these folders, return the client. ``index_delay``
    (seconds per file) slows its index runs down, so a test can act while one runs;
    ``command`` starts another server script (``LEAN_SERVER`` and its options)."""
    server_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    if command is None:
        command = [*SLOW_SERVER, str(index_delay)] if index_delay else SERVER_COMMAND
    config = ClientServerConfig(
        server_command=command, client_factory=make_client, server_env=server_env
    )
    client = await config.start()
    assert isinstance(client, Client)
    client.initialize_result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities or vscode_capabilities(),
            workspace_folders=[
                types.WorkspaceFolder(uri=path.as_uri(), name=name)
                for name, path in folders.items()
            ],
            initialization_options=init_options,
        )
    )
    return client


async def stop(client: Client) -> None:
    await client.shutdown_session()
    await client.stop()


def hashing_options(cache: Path, **more: Any) -> dict[str, Any]:
    return {"model": "hashing", "cacheDir": str(cache), **more}


# -- waiting -----------------------------------------------------------------------------
async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = WAIT, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def status(client: Client) -> dict[str, Any]:
    reply = await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codequest.status")
        ),
        WAIT,
    )
    assert isinstance(reply, dict)
    return reply


async def wait_logged(client: Client, start: str, count: int = 1) -> list[str]:
    """Wait for ``count`` log messages starting with ``start``; returns all of them.

    The indexing thread posts a folder's "indexed" line right after the folder turns ready,
    so it may arrive just after a status reply that already says "ready".
    """

    async def logged() -> list[str]:
        lines = [m.message for m in client.log_messages if m.message.startswith(start)]
        return lines if len(lines) >= count else []

    result: list[str] = await eventually(logged, what=f"{count} log line(s) {start!r}")
    return result


async def wait_ready(client: Client) -> dict[str, Any]:
    """Wait until every folder's index is ready; returns the status reply."""

    async def ready() -> dict[str, Any] | None:
        reply = await status(client)
        folders = reply["folders"]
        return reply if folders and all(f["state"] == "ready" for f in folders) else None

    result: dict[str, Any] = await eventually(ready, what="every folder to be indexed")
    return result


async def search(client: Client, params: Any) -> dict[str, Any]:
    reply = await request(client, "codequest/search", params)
    assert isinstance(reply, dict), reply
    return reply


async def request(client: Client, method: str, params: Any) -> Any:
    """Send a request with these params exactly as given (even when they are malformed)."""
    msg_id = str(uuid.uuid4())
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data(
        JsonRPCRequestMessage(id=msg_id, method=method, params=params, jsonrpc="2.0")
    )
    return await asyncio.wait_for(asyncio.wrap_future(future), WAIT)
