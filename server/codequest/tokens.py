"""Identifier-aware tokenization shared by the lexical index and ranking."""

from __future__ import annotations

import re
from functools import lru_cache

# Identifiers may hold any letters (``größe``, ``café``, ``读取``), as Python, JS, Java,
# Go and Rust allow; an ASCII-only pattern would cut them into meaningless pieces.
_WORD = re.compile(r"[^\W\d]\w*|\d+")
# Splits camelCase, PascalCase, acronyms (HTTPServer -> HTTP, Server) and digits.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# The same for pieces with non-ASCII letters: runs of letters and runs of digits, each
# letter run then cut at case changes in :func:`_split_case`.
_RUNS = re.compile(r"\d+|[^\W\d_]+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "with",
        "does",
        "do",
        "can",
        "get",
        "self",
    ]
)


@lru_cache(maxsize=65536)
def split_identifier(identifier: str) -> tuple[str, ...]:
    """``parseHTTPResponse_v2`` -> ``('parse', 'http', 'response', 'v', '2')``."""
    parts: list[str] = []
    for piece in identifier.split("_"):
        if not piece:
            continue
        if piece.isascii():
            parts.extend(p.lower() for p in _CAMEL.findall(piece))
        else:
            for run in _RUNS.findall(piece):
                parts.extend(p.lower() for p in _split_case(run))
    return tuple(parts)


def _split_case(run: str) -> list[str]:
    """``berechneGröße`` -> ``berechne``, ``Größe``; ``ÜBERGröße`` -> ``ÜBER``, ``Größe``."""
    out: list[str] = []
    start = 0
    for i in range(1, len(run)):
        prev, cur = run[i - 1], run[i]
        nxt = run[i + 1] if i + 1 < len(run) else ""
        if cur.isupper() and (prev.islower() or (prev.isupper() and nxt.islower())):
            out.append(run[start:i])
            start = i
    out.append(run[start:])
    return out


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased identifiers plus their camelCase/snake_case parts.

    ``read_json_file`` yields ``read_json_file``, ``read``, ``json``, ``file``; so a query
    can match either the whole identifier or a part of it.
    """
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        lower = word.lower()
        parts = split_identifier(word)
        if len(parts) > 1 and len(lower) <= 64:
            out.append(lower)
        for part in parts:
            if keep_stopwords or part not in STOPWORDS:
                out.append(part)
        if len(parts) == 0 and (keep_stopwords or lower not in STOPWORDS):
            out.append(lower)
    return out


def stem(term: str) -> str:
    """A light, language-neutral suffix stripper for ranking features (not for the index).

    ``callbacks`` -> ``callback``, ``handlers`` -> ``handler``; ``parse``, ``parsed`` and
    ``parsing`` all give ``pars``; ``classes`` -> ``class``. Short words are kept as written.
    """
    if len(term) <= 3:
        return term
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            if suffix == "ies":
                return term[:-3] + "y"
            if suffix == "es" and not term.endswith(("ses", "xes", "ches", "shes", "zes")):
                return term[:-1]
            if suffix == "s" and term.endswith("ss"):
                return term
            return term[: -len(suffix)]
    if term.endswith("e") and len(term) >= 5:
        return term[:-1]
    return term


def variants(term: str) -> tuple[str, ...]:
    """Inflected forms of a query term worth looking up in the index vocabulary."""
    base = stem(term)
    forms = {base, base + "s", base + "es", base + "ed", base + "ing", base + "er", base + "e"}
    if term.endswith("y"):
        forms.add(term[:-1] + "ies")
    forms.discard(term)
    return tuple(sorted(f for f in forms if len(f) >= 3))


def normalize_symbol(name: str) -> str:
    """Case- and separator-insensitive form of one name: ``_Iter_Dump`` -> ``iterdump``."""
    return "".join(split_identifier(name))


def query_words(text: str) -> list[str]:
    """Stemmed content words of a query or path, stopwords and one-letter words dropped."""
    out: list[str] = []
    for match in _WORD.finditer(text):
        for part in split_identifier(match.group(0)) or (match.group(0).lower(),):
            if len(part) > 1 and part not in STOPWORDS:
                out.append(stem(part))
    return out
