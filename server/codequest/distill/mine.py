"""Mine (query, code) training pairs from source folders, with no downloads.

Every definition that tree-sitter finds (:func:`codequest.chunking.definition_chunks`) gives up
to three natural-language queries for its code:

- ``doc``: the first sentence of its docstring or leading doc comment;
- ``comment``: one inline comment of a few words inside it;
- ``name``: its identifier split into words (``parseHttpHeader`` -> ``parse http header``).

Default sources are the Python standard library and the installed site-packages, which
exist on every machine that runs CodeQuest. Evaluation data is never read: any file under an
excluded root (``../shared/eval`` by default) is skipped, and pairs whose code equals an
evaluation document, or whose query equals an evaluation query, are dropped.
"""

from __future__ import annotations

import json
import os
import random
import re
import site
import sysconfig
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from codequest.chunking import definition_chunks
from codequest.config import Config
from codequest.discovery import discover, is_test_path, read_source
from codequest.tokens import split_identifier
from codequest.types import SourceFile

DEFINITION_KINDS = frozenset({"function", "method", "class"})
MAX_CODE_CHARS = 1500  # about 256 teacher tokens: what the teacher sees anyway
MIN_CODE_LINES = 3

_DOCSTRING = re.compile(r'^[ \t]*[rRuUbB]{0,2}("""|\'\'\')(.*?)(\1|$)', re.S | re.M)
_BLOCK_COMMENT = re.compile(r"/\*\*?(.*?)\*/", re.S)
_LINE_COMMENT = re.compile(r"^[ \t]*(?://+|#+)[ \t]?(.*)$", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n\s*\n")
_WORDY = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True, slots=True)
class Pair:
    query: str
    code: str
    kind: str  # doc | comment | name
    language: str
    source: str  # "<root name>/<relative path>:<line>"


def default_roots() -> list[Path]:
    """The Python standard library and every site-packages folder of this interpreter."""
    roots = [Path(sysconfig.get_paths()["stdlib"])]
    for folder in [*site.getsitepackages(), site.getusersitepackages()]:
        roots.append(Path(folder))
    seen: list[Path] = []
    for root in roots:
        root = root.resolve()
        if root.is_dir() and root not in seen:
            seen.append(root)
    return seen


def default_excluded() -> list[Path]:
    """Evaluation data that must never become training data."""
    out = []
    env = os.environ.get("CODEQUEST_EVAL_DIR")
    if env:
        out.append(Path(env))
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "eval"
        if candidate.is_dir():
            out.append(candidate)
            break
    return [p.resolve() for p in out]


def first_sentence(text: str, max_words: int = 32) -> str:
    text = text.strip()
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    text = " ".join(text.split())
    words = text.split(" ")
    if len(words) > max_words:
        text = " ".join(words[:max_words])
    return text.rstrip(":")


def _doc_query(code: str, language: str) -> str:
    if language == "python":
        match = _DOCSTRING.search(code)
        if match:
            return first_sentence(match.group(2))
        return ""
    block = _BLOCK_COMMENT.match(code.lstrip())
    if block:
        body = "\n".join(line.strip().lstrip("*").strip() for line in block.group(1).splitlines())
        body = body.split("@", 1)[0]
        return first_sentence(body)
    lines = []
    for line in code.lstrip().splitlines():
        found = _LINE_COMMENT.match(line)
        if not found:
            break
        lines.append(found.group(1))
    return first_sentence("\n".join(lines))


def _comment_query(code: str, rng: random.Random) -> str:
    body = code.split("\n", 1)[1] if "\n" in code else ""
    found = [
        " ".join(m.group(1).split())
        for m in _LINE_COMMENT.finditer(body)
        if len(_WORDY.findall(m.group(1))) >= 4
        and "noqa" not in m.group(1)
        and "type:" not in m.group(1)
        and "pragma" not in m.group(1)
    ]
    return rng.choice(found) if found else ""


def _name_query(symbol: str) -> str:
    words = [w for part in symbol.split(".") for w in split_identifier(part)]
    return " ".join(words) if len(words) >= 2 else ""


def _usable(query: str) -> bool:
    return len(_WORDY.findall(query)) >= 2 and len(query) <= 300


def normalise_code(code: str) -> str:
    return " ".join(code.split())


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def mine_pairs(
    roots: Iterable[Path] | None = None,
    *,
    max_codes: int = 6_000,
    seed: int = 0,
    excluded: Sequence[Path] | None = None,
    banned_code: set[str] | None = None,
    banned_queries: set[str] | None = None,
    max_files: int = 40_000,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Pair], dict[str, object]]:
    """Mine, deduplicate and subsample pairs by distinct code; returns them and a summary."""
    rng = random.Random(seed)
    roots = [Path(r).resolve() for r in (roots if roots is not None else default_roots())]
    excluded = [
        Path(p).resolve() for p in (excluded if excluded is not None else default_excluded())
    ]
    banned_code = banned_code or set()
    banned_queries = banned_queries or set()
    counts: Counter[str] = Counter()
    seen_code: set[tuple[str, str]] = set()
    pairs: list[Pair] = []
    config = Config(max_files=max_files, max_file_bytes=400_000)
    for n_file, (root, file) in enumerate(_files(roots, config)):
        if _inside(Path(file.abs_path).resolve(), excluded):
            counts["skipped_eval_files"] += 1
            continue
        if progress is not None and n_file % 200 == 0:
            progress(len(pairs), n_file)
        for pair in _pairs_of_file(root, file, rng):
            key = normalise_code(pair.code)
            if key in banned_code:
                counts["dropped_eval_code"] += 1
                continue
            if pair.query.lower().strip() in banned_queries:
                counts["dropped_eval_query"] += 1
                continue
            if (pair.kind, key) in seen_code:
                counts["dropped_duplicate"] += 1
                continue
            seen_code.add((pair.kind, key))
            pairs.append(pair)
    # Sample whole code groups: the teacher embeds each distinct code once, and that is the
    # slow part, so the budget is counted in distinct code texts.
    mined = len(pairs)
    groups: dict[str, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(pair.code, []).append(pair)
    codes = sorted(groups)
    rng.shuffle(codes)
    pairs = [p for code in codes[:max_codes] for p in groups[code]]
    summary: dict[str, object] = {
        "roots": [str(r) for r in roots],
        "excluded": [str(e) for e in excluded],
        "mined_pairs": mined,
        "pairs": len(pairs),
        "codes": min(len(codes), max_codes),
        "kinds": dict(Counter(p.kind for p in pairs)),
        "languages": dict(Counter(p.language for p in pairs)),
        "seed": seed,
        **dict(counts),
    }
    return pairs, summary


def _files(roots: Sequence[Path], config: Config) -> Iterator[tuple[Path, SourceFile]]:
    budget = config.max_files
    for root in roots:
        for file in discover(root, config):
            if budget <= 0:
                return
            if is_test_path(file.path):
                continue
            budget -= 1
            yield root, file


def _pairs_of_file(root: Path, file: SourceFile, rng: random.Random) -> Iterator[Pair]:
    text = read_source(file, max_bytes=400_000)
    if not text:
        return
    path, language = file.path, file.language
    try:
        chunks = definition_chunks(path, language, text)
    except Exception:  # noqa: BLE001 - a parser failure only costs this file
        return
    for chunk in chunks:
        if chunk.kind not in DEFINITION_KINDS or not chunk.symbol:
            continue
        code = chunk.text
        if code.count("\n") + 1 < MIN_CODE_LINES:
            continue
        code = code[:MAX_CODE_CHARS]
        source = f"{root.name}/{path}:{chunk.start_line}"
        for kind, query in (
            ("doc", _doc_query(chunk.text, language)),
            ("comment", _comment_query(chunk.text, rng)),
            ("name", _name_query(chunk.symbol)),
        ):
            if query and _usable(query):
                yield Pair(query, code, kind, language, source)


def load_eval_guards(eval_root: Path | None) -> tuple[set[str], set[str]]:
    """Normalised code of every eval document and lowercased eval queries (to drop overlap).

    Reads only the eval *corpus* and *queries* text to build a deny list; nothing from it
    is ever used as training data.
    """
    codes: set[str] = set()
    queries: set[str] = set()
    if eval_root is None or not eval_root.is_dir():
        return codes, queries
    for corpus in eval_root.glob("*/corpus.jsonl"):
        with corpus.open(encoding="utf-8") as fh:
            for line in fh:
                codes.add(normalise_code(json.loads(line)["text"][:MAX_CODE_CHARS]))
    for qfile in eval_root.glob("*/queries.jsonl"):
        with qfile.open(encoding="utf-8") as fh:
            for line in fh:
                queries.add(" ".join(json.loads(line)["text"].lower().split()))
    return codes, queries


def save_pairs(pairs: Sequence[Pair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps(asdict(pair)) + "\n")


def load_pairs(path: Path) -> list[Pair]:
    with path.open(encoding="utf-8") as fh:
        return [Pair(**json.loads(line)) for line in fh]


def texts_key_of_roots(
    roots: Sequence[Path] | None, max_codes: int, max_files: int, seed: int
) -> str:
    """A short key for one mining configuration (roots, budgets, seed)."""
    import hashlib

    chosen = [str(Path(r).resolve()) for r in roots] if roots is not None else ["<default>"]
    raw = json.dumps([chosen, max_codes, max_files, seed, MAX_CODE_CHARS])
    return hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()
