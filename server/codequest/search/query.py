"""Query understanding, no model call: the class of a query, its words and name, its terms.

* :func:`classify_query`: an identifier (``JSONDecodeError``, ``Condition.wait_for``),
  natural language ("parse an email address into name and address"), or a how/where
  question about a subsystem;
* :func:`understand`: that class plus the stemmed words, the name to match against the
  symbol table, and which demoted kinds of file the query asks for;
* :func:`query_terms`: the BM25 terms, words expanded with their inflections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pathspec

from codequest.errors import InvalidQuery
from codequest.search.options import Demotion, QueryClass, RankingOptions
from codequest.tokens import normalize_symbol, query_words, split_identifier, tokenize, variants
from codequest.types import SearchFilters

_IDENT = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#|->)[A-Za-z_$][\w$]*)*(?:\(\))?$")
_QUESTION_START = re.compile(
    r"^(how|where|what|why|which|who|when|explain|describe|overview)\b", re.IGNORECASE
)
# "How to X" asks for code that does X (a semantic query), not how this codebase works.
_TASK_START = re.compile(
    r"^(how\s+(to|do\s+(i|you|we)|can\s+(i|you|we)|should\s+(i|we)|would\s+(i|you))|"
    r"what\s+can)\b",
    re.IGNORECASE,
)
_QUALIFIER = re.compile(r"\.|::|#|->")
# One plain lower-case word ("session", "middleware") is a topic, not a name: a name has a
# capital, an underscore, a digit or a qualifier in it.
_PLAIN_WORD = re.compile(r"^[a-z]+$")
# CamelCase, camelCase or snake_case names inside a sentence ("how does StateManager
# persist", "how bats_pipe chains commands"); plain words and acronyms are not names.
_EMBEDDED_NAME = re.compile(
    r"\b(?:[A-Z][a-z][a-zA-Z0-9]*[A-Z][a-zA-Z0-9]*|[a-z][a-zA-Z0-9]*[A-Z][a-zA-Z0-9]+"
    r"|[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)\b"
)
_KEYWORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that say nothing about which file is meant (for the path boost).
_PATH_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "if",
        "in",
        "is",
        "it",
        "not",
        "of",
        "on",
        "or",
        "the",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
    ]
)
_CODE_WORD = re.compile(r"[a-z][A-Z]|_|\.|::")
_WANTS_TESTS = re.compile(r"\b(tests?|testing|spec|specs|fixtures?|mocks?)\b", re.IGNORECASE)
_WANTS_EXAMPLES = re.compile(r"\b(examples?|samples?|demos?)\b", re.IGNORECASE)
_WANTS_VENDORED = re.compile(r"\b(vendor(ed)?|third[ _-]?party|generated|node_modules)\b", re.I)


def classify_query(query: str) -> QueryClass:
    """Cheap query understanding, no model call: identifier, question or natural language.

    * identifier: one token that is a (possibly qualified) name: ``make_archive``,
      ``Condition.wait_for``, ``fmt::format``, ``parseHTTP()``; also two or three tokens
      that all look like code (``Popen communicate`` stays natural language, ``Popen.wait
      timeout_s`` is an identifier query).
    * question: starts with how/where/what/why/which/... or ends with ``?``, except task
      requests ("how to read a csv file", "how do I ..."), which are natural language.
    * natural: everything else.
    """
    text = query.strip()
    words = text.split()
    if not words:
        return QueryClass.NATURAL
    if len(words) == 1 and _IDENT.match(text):
        return QueryClass.NATURAL if _PLAIN_WORD.match(text) else QueryClass.IDENTIFIER
    if _TASK_START.match(text):
        return QueryClass.NATURAL
    if _QUESTION_START.match(text) or text.endswith("?"):
        return QueryClass.QUESTION
    if len(words) <= 3 and all(_IDENT.match(w) and _CODE_WORD.search(w) for w in words):
        return QueryClass.IDENTIFIER
    return QueryClass.NATURAL


@dataclass(slots=True)
class ParsedQuery:
    """One query, understood: built once per search, before any candidate is scored."""

    text: str
    kind: QueryClass
    words: list[str]  # stemmed content words
    name_key: str  # normalised last name (identifier queries)
    name_parts: tuple[str, ...]
    qualifier: str  # normalised qualified name, "" if unqualified
    allowed_demotions: frozenset[Demotion]
    # Names whose definitions the query asks for, as written: an identifier query's last
    # name, or the CamelCase names inside a sentence.
    names: tuple[str, ...] = ()
    keywords: frozenset[str] = frozenset()  # lower-case words for the path boost
    # The names a file named after the query's words would have (``symbols.file_key``): each word
    # and each two in a row, joined.
    file_keys: frozenset[str] = frozenset()


def understand(query: str, filters: SearchFilters) -> ParsedQuery:
    kind = classify_query(query)
    text = query.strip().removesuffix("()")
    name_key, qualifier = "", ""
    name_parts: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    if kind is QueryClass.IDENTIFIER:
        first = text.split()[0]
        pieces = [p for p in _QUALIFIER.split(first) if p]
        tail = pieces[-1] if pieces else first
        name_key = normalize_symbol(tail)
        name_parts = split_identifier(tail)
        names = (tail,)
        if len(pieces) > 1:
            qualifier = ".".join(normalize_symbol(p) for p in pieces)
    elif _PLAIN_WORD.match(text):
        # One plain word ("timezone", "copytree") is a topic or a name: where something is
        # defined by exactly that name, that definition is what was asked for.
        names = (text,)
    else:
        names = tuple(dict.fromkeys(_EMBEDDED_NAME.findall(text)))
    keywords = frozenset(
        w.lower() for w in _KEYWORD.findall(text) if len(w) > 2 and w.lower() not in _PATH_STOPWORDS
    )
    allowed: set[Demotion] = set()
    if _WANTS_TESTS.search(query) or "test" in name_parts:
        allowed.add(Demotion.TEST)
    if _WANTS_EXAMPLES.search(query):
        allowed.add(Demotion.EXAMPLE)
    if _WANTS_VENDORED.search(query):
        allowed.add(Demotion.VENDORED)
    if filters.glob:
        # An explicit path filter says where to look.
        allowed.update(
            (Demotion.TEST, Demotion.EXAMPLE, Demotion.VENDORED, Demotion.LEGACY, Demotion.REEXPORT)
        )
    if re.search(r"\b(compat|legacy|deprecated)\b", query, re.IGNORECASE):
        allowed.add(Demotion.LEGACY)
    return ParsedQuery(
        text,
        kind,
        query_words(query),
        name_key,
        name_parts,
        qualifier,
        frozenset(allowed),
        names,
        keywords,
        file_keys_of(text),
    )


def file_keys_of(text: str) -> frozenset[str]:
    """The file names the words of ``text`` spell: each word of three letters or more that
    says something, and each two such words in a row, joined ("json element" ->
    ``jsonelement``)."""
    words = [w.lower().replace("_", "") for w in _KEYWORD.findall(text)]
    meant = [w if len(w) > 2 and w not in _PATH_STOPWORDS else "" for w in words]
    keys = {w for w in meant if w}
    keys.update(a + b for a, b in zip(meant, meant[1:], strict=False) if a and b)
    return frozenset(keys)


def query_terms(vocab_ids: dict[str, int], q: ParsedQuery, expansion: bool) -> dict[int, float]:
    """BM25 term ids and weights: the query's tokens (1.0) and, with ``expansion``, their
    inflections (0.5) for queries that are not identifiers."""
    terms: dict[int, float] = {}
    identifier = q.kind is QueryClass.IDENTIFIER
    for token in tokenize(q.text):
        tid = vocab_ids.get(token)
        if tid is not None:
            terms[tid] = 1.0
        if expansion and not identifier:
            for form in variants(token):
                vid = vocab_ids.get(form)
                if vid is not None and vid not in terms:
                    terms[vid] = 0.5
    if identifier and q.name_key:
        # The joined name: "assert_almost_equal" also finds "assertalmostequal".
        tid = vocab_ids.get(q.name_key)
        if tid is not None:
            terms[tid] = 1.0
    return terms


def compile_glob(glob: str | None) -> pathspec.PathSpec | None:
    """A search's path filter, or None; InvalidQuery for a pattern pathspec rejects."""
    if not glob:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines([glob])
    except Exception as err:  # noqa: BLE001 - pathspec raises several types for bad patterns
        raise InvalidQuery(f"invalid glob {glob!r}: {err}") from err


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """One search's request, resolved: what every stage after the snapshot reads."""

    text: str  # the query as given
    options: RankingOptions
    filters: SearchFilters
    spec: pathspec.PathSpec | None  # the compiled glob filter
    limit: int
    pool: int  # candidates per list
    max_per_file: int
    explain: bool
    use_lexical: bool
    restrictive: bool  # a filter that can starve the candidate pool
