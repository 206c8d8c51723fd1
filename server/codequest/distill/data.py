"""Training data for distillation: mined pairs plus the teacher's embeddings of them.

``prepare`` mines pairs (see :mod:`codequest.distill.mine`), then embeds every query and
every distinct code text with the teacher, caching both under ``$CODEQUEST_HOME/distill``.
Code is embedded exactly as the index embeds it (the teacher's own ``max_seq_length``
unless ``code_max_tokens`` lowers it to save time).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codequest.distill import say
from codequest.distill.cache import cached_embeddings
from codequest.distill.mine import (
    Pair,
    default_excluded,
    load_eval_guards,
    load_pairs,
    mine_pairs,
    save_pairs,
    texts_key_of_roots,
)
from codequest.encoders.models import codequest_home, slug


@dataclass
class TrainingData:
    pairs: list[Pair]
    query_vectors: np.ndarray  # teacher(query), one row per pair
    code_vectors: np.ndarray  # teacher(code), one row per distinct code
    code_index: np.ndarray  # pair -> row of code_vectors
    summary: dict[str, Any] = field(default_factory=dict)

    def head(self, n: int) -> TrainingData:
        """The first ``n`` pairs (code vectors are kept whole; indices stay valid)."""
        return TrainingData(
            self.pairs[:n],
            self.query_vectors[:n],
            self.code_vectors,
            self.code_index[:n],
            {**self.summary, "pairs_used": min(n, len(self.pairs))},
        )


def select_pairs(
    pairs: Sequence[Pair], n: int, shares: Mapping[str, float], seed: int
) -> list[Pair]:
    """``n`` pairs drawn per kind by ``shares`` (e.g. more ``doc`` than ``name``), shuffled.

    Mined data is mostly ``name`` pairs, which look least like a search query; shares let a
    recipe upweight docstring and comment queries. A kind with fewer pairs than its share
    gives its remainder to the others, in order of their shares.
    """
    rng = random.Random(seed)
    by_kind: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_kind.setdefault(pair.kind, []).append(pair)
    for group in by_kind.values():
        rng.shuffle(group)
    total = sum(shares.values())
    quota = {kind: int(n * share / total) for kind, share in shares.items()}
    chosen: list[Pair] = []
    for kind in sorted(quota, key=lambda k: -shares[k]):
        chosen += by_kind.get(kind, [])[: quota[kind]]
    spare = n - len(chosen)
    for kind in sorted(quota, key=lambda k: -shares[k]):
        rest = by_kind.get(kind, [])[quota[kind] :][: max(0, spare)]
        chosen += rest
        spare -= len(rest)
    rng.shuffle(chosen)
    return chosen


def prepare(
    teacher: Any,
    identity: str,
    *,
    roots: Sequence[Path] | None = None,
    max_codes: int = 6000,
    max_files: int = 40_000,
    seed: int = 0,
    code_max_tokens: int | None = 128,
    code_limit: int | None = None,
    pairs_limit: int | None = None,
    kind_shares: Mapping[str, float] | None = None,
) -> TrainingData:
    """Mine (or reuse) pairs and embed them with the teacher.

    ``pairs_limit`` with ``kind_shares`` trains on that many of the mined pairs, drawn per
    kind by :func:`select_pairs` (the teacher embeds only those).

    ``code_limit`` embeds only the first that many distinct code texts (the slow part on a
    CPU); pairs whose code is not embedded keep ``code_index == -1`` and train only the
    embedding-matching term, not the contrastive one.
    """
    started = time.monotonic()
    data_dir = codequest_home() / "distill" / "data"
    key = texts_key_of_roots(roots, max_codes, max_files, seed)
    pairs_path = data_dir / f"pairs-{key}.jsonl"
    summary_path = data_dir / f"pairs-{key}.summary.json"
    import json

    if pairs_path.is_file() and summary_path.is_file():
        pairs = load_pairs(pairs_path)
        summary = json.loads(summary_path.read_text())
        say(f"[distill] reusing {len(pairs)} mined pairs from {pairs_path}")
    else:
        excluded = default_excluded()
        codes: set[str] = set()
        queries: set[str] = set()
        for root in excluded:
            c, q = load_eval_guards(root)
            codes |= c
            queries |= q
        say("[distill] mining pairs with tree-sitter ...")
        pairs, summary = mine_pairs(
            roots,
            max_codes=max_codes,
            seed=seed,
            excluded=excluded,
            banned_code=codes,
            banned_queries=queries,
            max_files=max_files,
            progress=lambda n, f: say(f"[distill]   {n} pairs from {f} files"),
        )
        save_pairs(pairs, pairs_path)
        summary_path.write_text(json.dumps(summary, indent=2))
        say(f"[distill] mined {len(pairs)} pairs ({summary.get('codes')} code texts)")
    if pairs_limit is not None:
        pairs = select_pairs(
            pairs, pairs_limit, kind_shares or {"doc": 1, "comment": 1, "name": 1}, seed
        )
        summary = {
            **summary,
            "pairs": len(pairs),
            "kind_shares": dict(kind_shares or {}),
            "codes": len({p.code for p in pairs}),
            "kinds": dict(Counter(p.kind for p in pairs)),
            "languages": dict(Counter(p.language for p in pairs)),
        }
        say(f"[distill] selected {len(pairs)} pairs by kind: {summary['kinds']}")

    summary = {**summary, "pairs_digest": pairs_digest(pairs)}
    distinct: dict[str, int] = {}
    for pair in pairs:
        distinct.setdefault(pair.code, len(distinct))
    code_texts = list(distinct)[:code_limit] if code_limit is not None else list(distinct)
    code_index = np.asarray(
        [i if (i := distinct[p.code]) < len(code_texts) else -1 for p in pairs], dtype=np.int64
    )
    say(f"[distill] teacher embeds {len(pairs)} queries (cached after the first run) ...")
    query_vectors = cached_embeddings(
        teacher,
        identity,
        [p.query for p in pairs],
        tag="train-queries",
        progress=lambda d, n: say(f"[distill]   queries {d}/{n}"),
    )
    say(f"[distill] teacher embeds {len(code_texts)} code texts (the slow part, cached) ...")
    code_vectors = cached_embeddings(
        teacher,
        identity,
        code_texts,
        tag="train-code",
        max_seq_length=code_max_tokens,
        progress=lambda d, n: say(f"[distill]   code {d}/{n}"),
    )
    summary = {
        **summary,
        "code_max_tokens": code_max_tokens,
        "embedded_codes": len(code_texts),
        "contrastive_pairs": int((code_index >= 0).sum()),
    }
    say(f"[distill] training data ready in {time.monotonic() - started:.0f}s")
    return TrainingData(pairs, query_vectors, code_vectors, code_index, summary)


def pairs_digest(pairs: Sequence[Pair]) -> str:
    """A fingerprint of the training pairs, in order. The default sources are the Python
    standard library and the installed site-packages, so two machines (or one machine after
    a ``pip install``) mine different pairs; the card records this to tell them apart."""
    h = hashlib.sha256()
    for pair in pairs:
        h.update(f"{pair.kind}\x00{pair.query}\x00{pair.code}\x01".encode())
    return h.hexdigest()[:16]


def compare_with_shipped(name: str, summary: Mapping[str, Any]) -> str | None:
    """Why a retrained ``name`` will not be byte-identical to the shipped one, if it will not.

    None when the shipped card has no record to compare with or the data match.
    """
    from codequest.encoders.students import shipped_cards

    for _, card in shipped_cards():
        if card.get("name") != name:
            continue
        training = card.get("training")
        shipped = training.get("data", {}) if isinstance(training, dict) else {}
        if not isinstance(shipped, dict) or not shipped:
            return None
        if shipped.get("pairs_digest") and summary.get("pairs_digest"):
            if shipped["pairs_digest"] == summary["pairs_digest"]:
                return None
        elif shipped.get("mined_pairs") == summary.get("mined_pairs"):
            return None
        return (
            f"the shipped {name} was trained on {shipped.get('mined_pairs')} pairs mined from "
            f"{shipped.get('roots')}; this run mined {summary.get('mined_pairs')} from "
            f"{summary.get('roots')}. The installed packages differ, so the weights will "
            "differ too; the quality should match within run-to-run noise (docs/distill.md)"
        )
    return None


def split_dev(n: int, seed: int, fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    cut = max(1, int(n * fraction))
    return order[cut:], order[:cut]


__all__ = ["TrainingData", "compare_with_shipped", "pairs_digest", "prepare", "slug", "split_dev"]
