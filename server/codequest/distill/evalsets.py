"""BEIR-style evaluation sets (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

A tiny loader plus the four retrieval metrics the distillation study reports. Scoring is
brute-force cosine over L2-normalised rows, so the numbers do not depend on an ANN index.
Nothing here imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codequest.metrics import mrr_at_k, ndcg_at_k, recall_at_k


@dataclass(frozen=True, slots=True)
class EvalSet:
    name: str
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def load_beir(folder: Path, split: str = "test") -> EvalSet:
    """Load one split; only queries that appear in ``qrels/<split>.tsv`` are kept."""
    qrels: dict[str, dict[str, int]] = {}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise FileNotFoundError(f"no qrels for split {split!r} in {folder}: {qrels_path}")
    for line in qrels_path.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 3 and int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    doc_ids, doc_texts = [], []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            doc_ids.append(str(row["_id"]))
            doc_texts.append(str(row["text"]))
    query_ids, query_texts = [], []
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                query_ids.append(str(row["_id"]))
                query_texts.append(str(row["text"]))
    return EvalSet(folder.name, doc_ids, doc_texts, query_ids, query_texts, qrels)


def rankings(query_vectors: np.ndarray, doc_vectors: np.ndarray, k: int = 10) -> np.ndarray:
    """Top-k document indices per query by dot product (rows are normalised)."""
    scores = np.asarray(query_vectors, dtype=np.float32) @ np.asarray(doc_vectors, np.float32).T
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def metrics_from_ranked(
    ranked: Sequence[Sequence[str]],
    query_ids: Sequence[str],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, float]:
    """NDCG@10, MRR@10, Recall@1 and Recall@10 averaged over queries."""
    ndcg = mrr = r1 = r10 = 0.0
    for qid, docs in zip(query_ids, ranked, strict=True):
        rel = qrels[qid]
        ndcg += ndcg_at_k(docs, rel, 10)
        mrr += mrr_at_k(docs, rel, 10)
        r1 += recall_at_k(docs, rel, 1)
        r10 += recall_at_k(docs, rel, 10)
    n = max(1, len(query_ids))
    return {"ndcg@10": ndcg / n, "mrr@10": mrr / n, "recall@1": r1 / n, "recall@10": r10 / n}


def evaluate_dense(
    evalset: EvalSet, query_vectors: np.ndarray, doc_vectors: np.ndarray
) -> dict[str, float]:
    top = rankings(query_vectors, doc_vectors, 10)
    ranked = [[evalset.doc_ids[j] for j in row] for row in top]
    return metrics_from_ranked(ranked, evalset.query_ids, evalset.qrels)
