"""The vocabulary of ranking: query classes, fusion modes, demotions, weights and switches.

:class:`RankingOptions` holds every switch and weight; its defaults are what ships, and
``benchmarks/ranking.py`` turns stages off one at a time for its ablation rows. The
weights were chosen on data (``docs/ranking.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntFlag

from codequest.types import StrEnum


class QueryClass(StrEnum):
    """What a query is, decided without a model call (:func:`~.query.classify_query`)."""

    IDENTIFIER = "identifier"  # a (possibly qualified) name: ``Condition.wait_for``
    NATURAL = "natural"  # words, or a task: "how to read a csv file"
    QUESTION = "question"  # how/where/why ... about this codebase


class Fusion(StrEnum):
    """How dense and lexical evidence are combined."""

    WEIGHTED = "weighted"  # weighted normalised features: what ships
    RRF = "rrf"  # reciprocal-rank fusion of the two lists: the no-ranking baseline


class Demotion(IntFlag):
    """Why a file ranks lower unless the query asks for it, from its path alone; a path
    can be several (a test in a legacy folder)."""

    NONE = 0
    TEST = 1
    EXAMPLE = 2
    VENDORED = 4  # vendored or generated
    LEGACY = 8  # a compat/, legacy/ or deprecated/ copy of an API
    REEXPORT = 16  # a package's re-export file (__init__.py, package-info.java)
    DECLARATION = 32  # a TypeScript declaration stub (.d.ts)


# Score factors for demoted files (multiplied when a path is several), chosen on the
# real-repository set (docs/ranking.md).
DEMOTION_FACTORS: Mapping[Demotion, float] = {
    Demotion.TEST: 0.3,
    Demotion.EXAMPLE: 0.3,
    Demotion.VENDORED: 0.3,
    Demotion.LEGACY: 0.3,
    Demotion.REEXPORT: 0.5,
    Demotion.DECLARATION: 0.7,
}


# Reciprocal-rank fusion's constant (the usual 60).
RRF_K = 60
# Candidates per list (BM25's top, and the whole pool of rank fusion).
CANDIDATES = 100
# Dense neighbours asked of the vector index per query: beyond this, a chunk that BM25 did
# not also find never reached the top 10 (docs/measurements.md); lexical and symbol
# candidates keep their exact dense similarity however far down they are.
DENSE_CANDIDATES = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionWeights:
    """How much each feature adds to a candidate's score.

    ``dense``, ``lexical``, ``name``, ``path`` and ``file`` weigh features in 0..1. The
    boosts ``coherence``, ``definition`` and ``stem`` are fractions of the best score so far,
    so they keep their meaning whatever the scale of the others (as in semble):
    ``coherence`` goes to each file's best chunk in proportion to the file's summed score,
    ``definition`` to chunks that define a name the query mentions, ``stem`` to chunks whose
    file or folder name holds the query's words, ``named_file`` to chunks of a file named
    exactly after a word of the query, or two in a row (``Column.kt`` for "column
    definition", ``JsonElement.java`` for "json element hierarchy").
    """

    dense: float
    lexical: float
    name: float = 0.0
    path: float = 0.0
    file: float = 0.0
    coherence: float = 0.0
    definition: float = 0.0
    stem: float = 0.0
    named_file: float = 0.0


# Per query class, chosen by leave-one-repository-out cross-validation on the
# real-repository set (``benchmarks.realrepos_cv``), but natural language's dense share,
# read on CoSQA dev; CoSQA, csn and stdlib-bench are the checks (docs/ranking.md).
DEFAULT_WEIGHTS: Mapping[QueryClass, FusionWeights] = {
    QueryClass.IDENTIFIER: FusionWeights(
        dense=0.2, lexical=0.8, name=0.5, coherence=0.2, definition=2.0, stem=0.0
    ),
    QueryClass.NATURAL: FusionWeights(
        dense=0.84, lexical=0.16, coherence=0.2, definition=1.5, stem=0.5, named_file=0.3
    ),
    QueryClass.QUESTION: FusionWeights(
        dense=0.5, lexical=0.5, coherence=0.2, definition=0.75, stem=1.0, named_file=0.2
    ),
}


@dataclass(frozen=True, kw_only=True)
class RankingOptions:
    """Switches and weights for ranking; the defaults are what ships.

    ``fusion="rrf"`` reproduces plain reciprocal-rank fusion of the dense and lexical lists
    (weights ``dense``/``lexical`` only), the "retrieval without ranking" baseline. A plain
    string is accepted for ``fusion`` and becomes a :class:`Fusion`; an unknown one raises
    ``ValueError``.
    """

    dense: bool = True
    lexical: bool = True
    fusion: Fusion = Fusion.WEIGHTED
    rrf_equal: bool = False  # rrf with weight 1 for both lists
    query_expansion: bool = True
    symbol_match: bool = True  # symbol-table candidates and the name feature
    name_feature: bool = True
    path_feature: bool = True
    kind_prior: float = 0.0  # added for definitions, 0 turns it off
    file_aggregation: bool = True
    class_results: bool = True
    class_max_lines: int = 400  # larger classes stay as member chunks (no whole-file spans)
    # Classes whose members rank twice become one result spanning the class, for these
    # query classes; none by default: a result should point at the place in the code.
    class_result_queries: tuple[QueryClass, ...] = ()
    demote: bool = True
    demotion_factors: Mapping[Demotion, float] = field(
        default_factory=lambda: dict(DEMOTION_FACTORS)
    )
    definition_boost: bool = True  # chunks defining a name the query mentions
    stem_boost: bool = True  # chunks whose file or folder name holds the query's words
    named_file_boost: bool = True  # chunks of a file named exactly after the query's words
    coherence_boost: bool = True  # a file's best chunk, by the file's summed score
    # Per-file saturation: the n-th further result from one file has its score multiplied
    # by ``decay ** n`` when results are picked, so a file does not fill the page.
    decay: float = 0.5
    candidates: int = CANDIDATES
    # Dense neighbours asked of the vector index (at least twice the limit); None: as
    # many as ``candidates``. Lexical and name candidates outside them still get their exact
    # dense similarity.
    dense_candidates: int | None = DENSE_CANDIDATES
    max_per_file: int | None = None  # None: the searcher's setting
    weights: Mapping[QueryClass, FusionWeights] = field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS)
    )

    def __post_init__(self) -> None:
        try:
            fusion = Fusion(self.fusion)
        except ValueError:
            raise ValueError(
                f"unknown fusion {self.fusion!r}; expected 'weighted' or 'rrf'"
            ) from None
        object.__setattr__(self, "fusion", fusion)
        missing = [str(k) for k in QueryClass if k not in self.weights]
        if missing:
            raise ValueError(f"weights lack query classes {missing}")
