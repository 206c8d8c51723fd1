"""A real client that is not VS Code: headless Neovim's built-in LSP client.

``nvim_client.lua`` starts the server from Neovim (``vim.lsp.start_client``) on the
two-folder project, waits until ``codequest.status`` says every folder is ready, then
sends ``codequest/search``, ``workspace/symbol`` and a malformed search, and writes what it
got as JSON. Neovim 0.7 (Debian bookworm's ``neovim`` package) is the oldest it supports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_helpers import ALPHA, BETA, make_project

NVIM = shutil.which("nvim")
SCRIPT = Path(__file__).with_name("nvim_client.lua")

pytestmark = pytest.mark.skipif(
    NVIM is None,
    reason="nvim is not on PATH (install Debian's neovim package: apt-get install neovim)",
)


def test_neovim_drives_the_server(tmp_path: Path):
    assert NVIM is not None
    folders = make_project(tmp_path / "projects")
    out = tmp_path / "report.json"
    home = tmp_path / "nvim-home"  # Neovim's own logs and state stay in the test folder
    env = {
        **os.environ,
        "CQ_PYTHON": sys.executable,
        "CQ_FOLDERS": json.dumps([{"name": n, "path": str(p)} for n, p in folders.items()]),
        "CQ_CACHE": str(tmp_path / "cache"),
        "CQ_OUT": str(out),
        "HF_HUB_OFFLINE": "1",
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    command = [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCRIPT}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
    assert out.is_file(), f"no report; nvim said: {done.stdout}{done.stderr}"
    report = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in report, report["error"]
    assert done.returncode == 0, done.stderr

    assert set(report["commands"]) == {"codequest.reindex", "codequest.status"}
    assert {f["state"] for f in report["status"]["folders"]} == {"ready"}

    # Work-done progress through Neovim's own handlers: per folder, begin ... end.
    by_token: dict[str, list[str]] = {}
    for item in report["progress"]:
        by_token.setdefault(str(item["token"]), []).append(item["kind"])
    assert len(by_token) == 2
    for kinds in by_token.values():
        assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    assert report["statuses"][-1]["state"] == "ready"

    search = report["search"]["result"]
    assert search["index"]["state"] == "ready"
    top = search["results"][0]
    go_file = folders[BETA] / "cmd" / "hash.go"
    assert (top["name"], top["uri"]) == ("HashPassword", go_file.as_uri())
    lines = go_file.read_text(encoding="utf-8").split("\n")
    assert top["range"]["end"] == {"line": lines.index("}"), "character": 1}

    symbols = report["symbols"]["result"]
    assert symbols[0]["name"] == "parse"
    assert symbols[0]["location"]["uri"] == (folders[ALPHA] / "app" / "config_loader.py").as_uri()

    bad = report["bad"]["err"]
    assert bad["code"] == -32602 and bad["message"] == "query must be a string, got 42"
    assert report["exit_code"] == 0
