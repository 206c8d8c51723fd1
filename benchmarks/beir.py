"""BEIR-format retrieval sets and their metrics.

A set is a folder with ``corpus.jsonl`` (``_id``, ``text``, optional ``title`` and
``language``), ``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv``
(``query-id``, ``corpus-id``, ``score`` with a header line). Only the queries named in the
split's qrels are evaluated (BEIR convention: queries.jsonl can hold several splits).

The per-query metrics are :mod:`codequest.metrics` (BEIR/pytrec_eval conventions);
:func:`evaluate` averages them over a split.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codequest.metrics import mrr_at_k, ndcg_at_k, recall_at_k

METRIC_KS = (1, 5, 10)


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    text: str
    title: str
    language: str


@dataclass(frozen=True)
class BeirSet:
    name: str
    split: str
    corpus: tuple[Document, ...]  # file order
    queries: dict[str, str]  # only the queries with qrels in this split, file order
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}

    def describe(self) -> str:
        return f"{self.name}/{self.split}: {len(self.queries)} queries, {len(self.corpus)} docs"


class BeirError(ValueError):
    """A BEIR folder is missing a file or holds malformed rows."""


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise BeirError(f"cannot read {path}: {err.strerror}") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise BeirError(f"{path}:{number} is not JSON: {err}") from err
        if not isinstance(row, dict) or "_id" not in row:
            raise BeirError(f"{path}:{number} has no _id")
        rows.append(row)
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            for number, row in enumerate(reader, start=1):
                if not row or (number == 1 and row[0] == "query-id"):
                    continue
                if len(row) < 3:
                    raise BeirError(f"{path}:{number} needs 3 tab-separated columns, got {row!r}")
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    except OSError as err:
        raise BeirError(f"cannot read {path}: {err.strerror}") from err
    return qrels


def load_beir(path: str | Path, split: str = "test", *, name: str | None = None) -> BeirSet:
    """Load a BEIR folder; queries without qrels in ``split`` are left out."""
    folder = Path(path)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise BeirError(f"{folder} has no qrels/{split}.tsv")
    qrels = read_qrels(qrels_path)
    corpus = tuple(
        Document(
            str(row["_id"]),
            str(row.get("text") or ""),
            str(row.get("title") or ""),
            str(row.get("language") or "python"),
        )
        for row in _read_jsonl(folder / "corpus.jsonl")
    )
    queries = {
        str(row["_id"]): str(row.get("text") or "")
        for row in _read_jsonl(folder / "queries.jsonl")
        if str(row["_id"]) in qrels
    }
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise BeirError(
            f"{folder}: {len(missing)} qrels queries are not in queries.jsonl, e.g. {missing[0]!r}"
        )
    return BeirSet(name or folder.name, split, corpus, queries, qrels)


def unique_queries(*sets: BeirSet) -> list[str]:
    """The query texts of ``sets``, in order, each text once."""
    return list(dict.fromkeys(text for data in sets for text in data.queries.values()))


def subset(data: BeirSet, *, max_queries: int | None, max_docs: int | None) -> BeirSet:
    """A deterministic smaller set: the first queries, their relevant docs, then filler docs.

    Relevant documents of the kept queries are always kept; the rest of the corpus is
    filled in file order up to ``max_docs`` (so the set stays a real retrieval problem).
    """
    qids = list(data.queries)[: max_queries or len(data.queries)]
    qrels = {q: data.qrels[q] for q in qids}
    needed = {d for rel in qrels.values() for d in rel}
    limit = max(max_docs or len(data.corpus), len(needed))
    kept: list[Document] = [d for d in data.corpus if d.id in needed]
    for doc in data.corpus:
        if len(kept) >= limit:
            break
        if doc.id not in needed:
            kept.append(doc)
    order = {d.id: i for i, d in enumerate(data.corpus)}
    kept.sort(key=lambda d: order[d.id])
    return BeirSet(data.name, data.split, tuple(kept), {q: data.queries[q] for q in qids}, qrels)


# -- metrics (per query: codequest.metrics) ----------------------------------------------
def query_metrics(ranking: Sequence[str], relevant: Mapping[str, int]) -> dict[str, float]:
    out = {"mrr@10": mrr_at_k(ranking, relevant, 10), "ndcg@10": ndcg_at_k(ranking, relevant, 10)}
    for k in METRIC_KS:
        out[f"recall@{k}"] = recall_at_k(ranking, relevant, k)
    return out


def evaluate(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Mean metrics over every query in ``qrels``; a query missing from ``run`` scores 0."""
    if not qrels:
        return {}
    totals: dict[str, float] = {}
    for qid, relevant in qrels.items():
        for name, value in query_metrics(run.get(qid, ()), relevant).items():
            totals[name] = totals.get(name, 0.0) + value
    return {name: round(value / len(qrels), 4) for name, value in totals.items()}
