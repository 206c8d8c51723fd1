"""Tree-sitter parsers and the rule table of each parsed language."""

from __future__ import annotations

import importlib
import threading
from functools import cache

import tree_sitter

from codequest.chunking.grammars import GRAMMARS
from codequest.chunking.grammars.base import DESCEND, Grammar, Rule
from codequest.discovery.languages import GRAMMAR_WHEELS

# Error recovery wraps whatever it could not fit into ERROR nodes; definitions that did
# parse can sit inside, so they are looked through like any other block.
RULES: dict[str, dict[str, Rule]] = {
    language: {**grammar.rules, "ERROR": DESCEND} for language, grammar in GRAMMARS.items()
}


def supported_languages() -> frozenset[str]:
    """Languages whose files are split at definitions; all others get line windows."""
    return frozenset(RULES)


def grammar(language: str) -> Grammar:
    return GRAMMARS[language]


@cache
def _language(language: str) -> tree_sitter.Language:
    module_name, function = GRAMMAR_WHEELS[language]
    module = importlib.import_module(module_name)
    return tree_sitter.Language(getattr(module, function)())


_local = threading.local()


def parser(language: str) -> tree_sitter.Parser:
    """One parser per thread and language: parsers are not safe to share across threads."""
    parsers: dict[str, tree_sitter.Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = tree_sitter.Parser(_language(language))
    return parser
