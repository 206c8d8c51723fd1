"""codequest.metrics: NDCG, MRR and recall against values computed by hand, and semble's
location NDCG against the real-repository set's reference scorer (``tools/eval.py``)."""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from types import ModuleType

import pytest
from benchmarks.common import eval_root

from codequest.metrics import (
    Location,
    dcg,
    location_covers,
    mrr_at_k,
    ndcg_at_k,
    ndcg_binary,
    ndcg_locations,
    paths_match,
    recall_at_k,
)

EVAL_PY = eval_root() / "realrepos-dev" / "tools" / "eval.py"

RANK2 = 1 / math.log2(3)  # the discount of rank 2
RANK3 = 1 / math.log2(4)  # the discount of rank 3: 0.5


def test_one_relevant_document_at_rank_two() -> None:
    ranking, relevant = ["d3", "d1", "d2"], {"d1": 1}
    assert mrr_at_k(ranking, relevant) == 0.5
    assert ndcg_at_k(ranking, relevant) == pytest.approx(RANK2)
    assert recall_at_k(ranking, relevant, 1) == 0.0
    assert recall_at_k(ranking, relevant, 5) == 1.0


def test_two_relevant_documents_at_ranks_one_and_three() -> None:
    ranking, relevant = ["d2", "d3", "d4"], {"d2": 1, "d4": 1}
    assert ndcg_at_k(ranking, relevant) == pytest.approx((1 + RANK3) / (1 + RANK2))
    assert recall_at_k(ranking, relevant, 1) == 0.5
    assert mrr_at_k(ranking, relevant) == 1.0


def test_graded_gain_is_the_qrels_score() -> None:
    expected = (1 + 2 * RANK2) / (2 + 1 * RANK2)
    assert ndcg_at_k(["d2", "d1"], {"d1": 2, "d2": 1}) == pytest.approx(expected)


def test_only_the_top_k_count_and_zero_scores_are_not_relevant() -> None:
    assert mrr_at_k(["x"] * 10 + ["d1"], {"d1": 1}, 10) == 0.0
    assert ndcg_at_k(["x"] * 10 + ["d1"], {"d1": 1}, 10) == 0.0
    assert recall_at_k(["d1"], {"d1": 0}, 1) == 0.0
    assert ndcg_at_k(["d1"], {"d1": 0}) == 0.0
    assert mrr_at_k(["d1"], {"d1": 0}) == 0.0


def test_dcg_discounts_by_log2_of_rank_plus_one() -> None:
    assert dcg([]) == 0.0
    assert dcg([1, 0, 1]) == pytest.approx(1 + RANK3)
    assert dcg([3, 2]) == pytest.approx(3 + 2 * RANK2)


def test_binary_ndcg_against_an_ideal_count() -> None:
    # Hits at ranks 2 and 3, four targets: the ideal has four hits at ranks 1-4.
    ideal = 1 + RANK2 + RANK3 + 1 / math.log2(5)
    assert ndcg_binary([0, 1, 1], 4) == pytest.approx((RANK2 + RANK3) / ideal)
    # More targets than k: the ideal is k hits, so a perfect top k scores 1.
    assert ndcg_binary([1] * 10, 25, 10) == pytest.approx(1.0)
    # Gains past k are ignored; nothing to find scores 0.
    assert ndcg_binary([0, 0, 1], 1, k=2) == 0.0
    assert ndcg_binary([1], 0) == 0.0


# -- semble's location NDCG --------------------------------------------------------------------
def test_paths_match_in_both_directions_after_backslashes() -> None:
    assert paths_match("src/flask/app.py", "src/flask/app.py")
    assert paths_match("/abs/repo/src/flask/app.py", "src/flask/app.py")  # result is longer
    assert paths_match("app.py", "src/flask/app.py")  # target is longer
    assert paths_match("src\\flask\\app.py", "flask/app.py")
    assert not paths_match("src/flask/myapp.py", "app.py")  # a whole segment, not a suffix
    assert not paths_match("src/flask/app.py", "src/flask/app.pyi")


def test_a_span_needs_an_overlap_and_a_whole_file_covers_any_span() -> None:
    target: Location = ("a.py", 10, 20)
    assert location_covers(("a.py", 20, 30), target)  # touching the last line
    assert location_covers(("a.py", 1, 10), target)  # touching the first line
    assert not location_covers(("a.py", 21, 30), target)
    assert not location_covers(("a.py", 1, 9), target)
    assert location_covers(("a.py", None, None), target)  # the whole file
    assert location_covers(("a.py", 15, None), target)  # one line
    assert not location_covers(("a.py", 25, None), target)
    assert location_covers(("a.py", 99, 120), ("a.py", None, None))  # a file target
    assert not location_covers(("b.py", 10, 20), target)


def test_location_ndcg_by_hand() -> None:
    results: list[Location] = [("x.py", 1, 5), ("a.py", 1, 5), ("a.py", 30, 40), ("b.py", 1, 2)]
    # Two targets in a.py: the first covering result is rank 2 for both, marked once.
    both = ndcg_locations(results, [("a.py", None, None), ("a.py", 2, 3)])
    assert both == pytest.approx(RANK2 / (1 + RANK2))
    # A span only the third result overlaps, and b.py at rank 4.
    spans = ndcg_locations(results, [("a.py", 35, 36), ("b.py", None, None)])
    assert spans == pytest.approx((RANK3 + 1 / math.log2(5)) / (1 + RANK2))
    # A target no result reaches still counts in the ideal.
    assert ndcg_locations(results, [("a.py", None, None), ("gone.py", None, None)]) == (
        pytest.approx(RANK2 / (1 + RANK2))
    )
    # Only the top k count; no targets scores 0.
    assert ndcg_locations(results, [("b.py", None, None)], k=3) == 0.0
    assert ndcg_locations(results, []) == 0.0
    assert ndcg_locations([], [("a.py", None, None)]) == 0.0


def _load_eval_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("realrepos_eval", EVAL_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def _random_location(rng: random.Random, *, target: bool) -> Location:
    folder = rng.choice(["", "src/", "src/pkg/", "lib\\pkg\\", "/abs/repo/src/"])
    path = folder + rng.choice(["a.py", "b.py", "pkg/a.py", "c.rb"])
    if rng.random() < 0.4:
        return (path, None, None)
    start = rng.randint(1, 60)
    end = start + rng.randint(0, 30)
    if not target and rng.random() < 0.1:
        return (path, start, None)
    return (path, start, end)


@pytest.mark.skipif(not EVAL_PY.is_file(), reason="the shared realrepos-dev set is not here")
def test_location_ndcg_agrees_with_the_sets_eval_py() -> None:
    reference = _load_eval_py()
    rng = random.Random(1234)
    for _ in range(3000):
        results = [_random_location(rng, target=False) for _ in range(rng.randint(0, 14))]
        targets = [_random_location(rng, target=True) for _ in range(rng.randint(0, 12))]
        k = rng.choice([10, 10, 5, 3])
        hits = [reference.Hit(*r) for r in results]
        wanted = [reference.Target(*t) for t in targets]
        expected, _ = reference.ndcg(hits, wanted, k, len(wanted))
        assert ndcg_locations(results, targets, k) == expected, (results, targets, k)
