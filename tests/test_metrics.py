"""codequest.metrics: NDCG, MRR and recall against values computed by hand."""

from __future__ import annotations

import math

import pytest

from codequest.metrics import dcg, mrr_at_k, ndcg_at_k, ndcg_binary, recall_at_k

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
