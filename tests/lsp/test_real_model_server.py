"""The server with the real model and ``queryEncoder: auto``: the shipped student answers.

The bundled teacher (all-MiniLM-L6-v2) indexes a small project; queries are encoded by the
default student, built once per session by the ``shipped_student`` fixture. The query
shares no identifier with the function it is meant to find, so only the encoder's sense
of meaning can find it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from lsp_helpers import eventually, search, start, status, stop, wait_logged, write_tree

from codequest.tokens import tokenize

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

LOAD_WAIT = 180.0  # the teacher loads and embeds on a busy 2-core machine

PROJECT = {
    "util/text.py": """\
        def levenshtein(first, second):
            previous = list(range(len(second) + 1))
            for i, a in enumerate(first, 1):
                current = [i]
                for j, b in enumerate(second, 1):
                    cost = 0 if a == b else 1
                    current.append(min(current[j - 1] + 1, previous[j] + 1, previous[j - 1] + cost))
                previous = current
            return previous[-1]


        def slugify(title):
            return "-".join(title.lower().split())
        """,
    "util/files.py": """\
        import json


        def read_json_file(path):
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        """,
    "web/email.js": """\
        function parseEmailAddress(input) {
          const at = input.lastIndexOf("@");
          return { local: input.slice(0, at), domain: input.slice(at + 1) };
        }
        """,
}
PARAPHRASE = "minimum number of insertions, deletions and substitutions between two strings"


async def test_the_shipped_student_answers_a_paraphrase(tmp_path: Path, shipped_student: object):
    root = write_tree(tmp_path / "project", PROJECT)
    client = await start({"project": root}, {"cacheDir": str(tmp_path / "cache")})
    try:

        async def ready() -> dict[str, object] | None:
            (folder,) = (await status(client))["folders"]
            return folder if folder["state"] == "ready" else None

        folder = await eventually(ready, timeout=LOAD_WAIT, what="the real-model index")
        assert folder["queryEncoder"] == "lora32-keep025-cos"
        assert folder["problem"] == ""
        (line,) = await wait_logged(client, "CodeQuest: query encoder ")
        assert line.startswith("CodeQuest: query encoder lora32-keep025-cos (loaded in ")

        reply = await search(client, {"query": PARAPHRASE, "limit": 3})
        top = reply["results"][0]
        assert top["name"] == "levenshtein", [r["name"] for r in reply["results"]]
        assert top["uri"] == (root / "util" / "text.py").as_uri()
        # Not a word in common: BM25 and the symbol table have nothing to go on.
        function = textwrap.dedent(PROJECT["util/text.py"]).split("def slugify")[0]
        assert not set(tokenize(PARAPHRASE)) & set(tokenize(function))
    finally:
        await stop(client)
