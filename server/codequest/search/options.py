"""The vocabulary of ranking: query classes, fusion modes, demotions, weights and switches.

:class:`RankingOptions` holds every switch and weight; its defaults are what ships, and
``benchmarks/ranking.py`` turns stages off one at a time for its ablation rows. The
weights were chosen on data (``docs/ranking.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

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


class Demotion(IntEnum):
    """Why a file ranks lower unless the query asks for it (one per path, from its name)."""

    NONE = 0
    TEST = 1
    EXAMPLE = 2
    VENDORED = 3  # vendored or generated


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
    """How much each normalised feature (all in 0..1) adds to a candidate's score."""

    dense: float
    lexical: float
    name: float
    path: float
    file: float = 0.0


# Per query class, the best point of a grid on stdlib-bench with cross-validation for the
# held-out estimate; the natural-language lexical weight was then picked on CoSQA dev (web-
# style task queries want little keyword weight). See docs/ranking.md.
DEFAULT_WEIGHTS: Mapping[QueryClass, FusionWeights] = {
    QueryClass.IDENTIFIER: FusionWeights(dense=1.0, lexical=1.0, name=0.5, path=0.3, file=0.3),
    QueryClass.NATURAL: FusionWeights(dense=0.5, lexical=0.1, name=0.0, path=0.0, file=0.3),
    QueryClass.QUESTION: FusionWeights(dense=0.5, lexical=0.2, name=0.0, path=0.1, file=0.3),
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
    kind_prior: float = 0.1  # added for definitions, 0 turns it off
    file_aggregation: bool = True
    class_results: bool = True
    class_max_lines: int = 400  # larger classes stay as member chunks (no whole-file spans)
    class_result_queries: tuple[QueryClass, ...] = (QueryClass.QUESTION,)
    demote: bool = True
    demote_factor: float = 0.5
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
