"""BM25 postings: agreement with a plain reference implementation, ranking properties."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codequest.index.lexical import K1, B, LexicalIndex, chunk_terms, path_terms


def build(docs: list[dict[int, int]], vocab: int) -> LexicalIndex:
    terms = [
        (np.asarray(list(d), np.uint32), np.asarray(list(d.values()), np.uint16)) for d in docs
    ]
    return LexicalIndex.build(terms, vocab)


def reference_bm25(docs: list[dict[int, int]], query: list[int]) -> list[float]:
    n = len(docs)
    lengths = [sum(d.values()) for d in docs]
    avg = (sum(lengths) / n) or 1.0
    out = []
    for doc, length in zip(docs, lengths, strict=True):
        score = 0.0
        for term in set(query):
            tf = doc.get(term, 0)
            if not tf:
                continue
            df = sum(1 for d in docs if term in d)
            idf = math.log1p((n - df + 0.5) / (df + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))
        out.append(score)
    return out


docs_strategy = st.lists(
    st.dictionaries(st.integers(0, 11), st.integers(1, 6), max_size=6), min_size=1, max_size=15
)


@settings(max_examples=150, deadline=None)
@given(docs_strategy, st.lists(st.integers(0, 11), max_size=5))
def test_scores_match_the_reference(docs: list[dict[int, int]], query: list[int]):
    index = build(docs, 12)
    np.testing.assert_allclose(
        index.scores(query), reference_bm25(docs, query), rtol=1e-4, atol=1e-6
    )


@settings(max_examples=150, deadline=None)
@given(docs_strategy, st.lists(st.integers(0, 11), max_size=5), st.integers(1, 20))
def test_top_is_the_best_nonzero_scores_in_order(docs, query, count):
    index = build(docs, 12)
    scores = index.scores(query)
    positions, top_scores = index.top(query, count)
    expected = sorted((s for s in scores if s > 0), reverse=True)[:count]
    np.testing.assert_allclose(top_scores, expected, rtol=1e-6)
    np.testing.assert_array_equal(scores[positions], top_scores)
    assert len(set(positions.tolist())) == len(positions)


def test_rare_terms_outweigh_common_ones():
    docs = [{0: 1, 1: 1}, {0: 1}, {0: 1}, {0: 1}]
    index = build(docs, 2)
    positions, _ = index.top([0, 1], 4)
    assert positions[0] == 0
    assert index.idf[1] > index.idf[0]


def test_term_frequency_saturates_and_long_documents_are_normalised():
    docs = [{0: 1, 1: 20}, {0: 10, 1: 20}, {0: 100, 1: 20}, {0: 1, 1: 1}]
    scores = build(docs, 2).scores([0])
    assert scores[0] < scores[1] < scores[2]
    assert scores[2] - scores[1] < scores[1] - scores[0]  # saturation
    assert scores[3] > scores[0]  # same tf, shorter document


def test_unknown_and_out_of_range_terms_score_nothing():
    index = build([{0: 1}, {1: 2}], 5)
    assert not index.scores([4, 99, -1]).any()
    positions, scores = index.top([99], 10)
    assert len(positions) == 0 and len(scores) == 0


def test_empty_index_and_empty_documents():
    empty = LexicalIndex.build([], 3)
    assert empty.size == 0
    assert len(empty.scores([0, 1])) == 0
    assert len(empty.top([0], 5)[0]) == 0
    blank = build([{}, {}, {0: 1}], 1)
    assert blank.scores([0]).tolist()[:2] == [0.0, 0.0]
    assert blank.scores([0])[2] > 0


def test_chunk_terms_count_text_symbol_and_path():
    counts = chunk_terms("json/decoder.py", "JsonDecoder.decode", "def decode(self, s): pass")
    assert counts["decode"] == 2  # text and symbol
    assert counts["json"] == 2  # symbol and folder name
    assert counts["decoder"] == 3  # symbol, and the file stem twice
    assert counts["pass"] == 1
    assert "py" not in counts  # the extension is not a term
    assert "self" not in counts  # a stopword


@pytest.mark.parametrize(
    ("path", "terms"),
    [
        (
            "src/http_client/RetryPolicy.java",
            ["retrypolicy", "retry", "policy"] * 2 + ["src", "http_client", "http", "client"],
        ),
        ("a b/c.d.e.py", ["c", "d", "e", "c", "d", "e", "b"]),
        ("Makefile", ["makefile", "makefile"]),
        # The file name twice (a file named after a topic is about it), then the last
        # three folders: the ones near the file say what it is, the root's say little.
        ("x/y/z/w/file.py", ["file", "file", "y", "z", "w"]),
    ],
)
def test_path_terms(path: str, terms: list[str]):
    assert path_terms(path) == terms


def test_counts_beyond_uint16_are_clipped_by_the_store(tmp_path):
    from codequest.index.store import Store

    store = Store(tmp_path, "m", 4)
    ids, tfs = store.term_ids(Counter({"x": 70_000, "y": 3}))
    assert tfs.tolist() == [65535, 3]
    assert [store.vocab[i] for i in ids] == ["x", "y"]


def test_top_of_matches_a_full_sort_on_large_tied_score_arrays() -> None:
    # Large enough for the sampled floor (more than 8x count non-zero scores), with ties
    # (quantised values) and zeros, which must never be returned.
    rng = np.random.default_rng(7)
    for trial in range(20):
        scores = np.round(rng.random(20_000), 2).astype(np.float32)
        scores[rng.random(20_000) < 0.6] = 0.0
        count = [1, 10, 100, 500][trial % 4]
        got = LexicalIndex.top_of(scores, count)
        # Best first; equal scores in position order.
        expected = sorted(np.flatnonzero(scores).tolist(), key=lambda i: (-scores[i], i))[:count]
        assert got.tolist() == expected
    sparse = np.zeros(1000, np.float32)
    sparse[[3, 50, 900]] = [0.5, 2.0, 1.0]
    assert LexicalIndex.top_of(sparse, 10).tolist() == [50, 900, 3]
    assert LexicalIndex.top_of(np.zeros(10, np.float32), 5).tolist() == []
