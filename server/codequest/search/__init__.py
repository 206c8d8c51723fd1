"""Hybrid retrieval and ranking over a :class:`~codequest.index.view.StoreView`.

Three steps per query, none of them a model call except the query embedding:

1. **Query understanding** (:mod:`.query`): identifier, natural language, or a question.
2. **Candidates** (:mod:`.candidates`): dense neighbours, BM25 over identifier parts (query
   words expanded with their inflections), and, for identifiers, the snapshot's symbol
   table (:mod:`.symbols`: exact, camelCase/snake_case-insensitive, prefix/subword and
   fuzzy name matches).
3. **Ranking** (:mod:`.scoring`, :mod:`.features`): every candidate gets exact dense and
   lexical scores, a name-match score, a path score and a definition prior, combined with
   weights that depend on the query class (:data:`DEFAULT_WEIGHTS`). Questions also get a
   file-level aggregate and class-level results (:mod:`.results`). Tests, examples,
   vendored and generated code are demoted unless the query asks for them.

:mod:`.searcher` runs the steps over a :mod:`.snapshot` of the store; :mod:`.helper` is the
thread that does the lexical side while the query is encoded. Every stage can be switched
off through :class:`RankingOptions` (:mod:`.options`). No torch here.
"""

from __future__ import annotations

from codequest.search.options import (
    CANDIDATES,
    DEFAULT_WEIGHTS,
    DENSE_CANDIDATES,
    Demotion,
    Fusion,
    FusionWeights,
    QueryClass,
    RankingOptions,
)
from codequest.search.query import classify_query, compile_glob
from codequest.search.searcher import Searcher
from codequest.search.snapshot import Snapshot

# The query classes under the names callers used before QueryClass.
QUERY_IDENTIFIER = QueryClass.IDENTIFIER
QUERY_NATURAL = QueryClass.NATURAL
QUERY_QUESTION = QueryClass.QUESTION

__all__ = [
    "CANDIDATES",
    "DEFAULT_WEIGHTS",
    "DENSE_CANDIDATES",
    "QUERY_IDENTIFIER",
    "QUERY_NATURAL",
    "QUERY_QUESTION",
    "Demotion",
    "Fusion",
    "FusionWeights",
    "QueryClass",
    "RankingOptions",
    "Searcher",
    "Snapshot",
    "classify_query",
    "compile_glob",
]
