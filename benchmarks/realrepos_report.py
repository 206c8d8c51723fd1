"""The real-repository benchmark in the report: text tables, markdown and a bar plot.

Everything is drawn from the ``realrepos`` part of a results JSON
(:func:`benchmarks.realrepos.run_realrepos`); :mod:`benchmarks.report` calls these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.realrepos import BM25, CODEQUEST, SEMBLE_HERE, SEMBLE_PUBLISHED, SYSTEMS
from benchmarks.report import table

LABELS = {
    CODEQUEST: "CodeQuest",
    BM25: "BM25",
    SEMBLE_HERE: "semble here",
    SEMBLE_PUBLISHED: "semble published",
    "bm25_published": "BM25 published",
}


def _f(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _repo_cells(row: dict[str, Any]) -> list[str]:
    n = row["ndcg10"]
    cats = row["by_category"].get(CODEQUEST, {})
    return [
        row["name"],
        row["language"],
        str(row["queries"]),
        *(_f(n.get(s)) for s in SYSTEMS),
        *(_f(cats.get(c), 3) for c in ("symbol", "semantic", "architecture")),
        _f(row.get("query_p50_ms"), 2),
        _f(row.get("index_s"), 1) + ("*" if row.get("embedded_from_cache") else ""),
        _f(row.get("chunks")),
    ]


REPO_HEADERS = [
    "repo",
    "language",
    "queries",
    *(LABELS[s] for s in SYSTEMS),
    "CQ symbol",
    "CQ semantic",
    "CQ architecture",
    "CQ query p50 ms",
    "index s",
    "chunks",
]


def _summary_rows(section: dict[str, Any]) -> list[list[str]]:
    """Mean over repositories, then per category, then per language."""
    summary = section["summary"]
    rows = [["mean over repositories", *(_f(summary["mean"].get(s)) for s in SYSTEMS)]]
    for category, by in summary["by_category"].items():
        rows.append([f"{category} (category)", *(_f(by.get(s)) for s in SYSTEMS)])
    for language, by in summary["by_language"].items():
        rows.append([language, *(_f(by.get(s)) for s in SYSTEMS)])
    return rows


def _within_line(section: dict[str, Any]) -> str:
    s = section["summary"]
    w = s["within_of_semble_here"]
    below = ", ".join(w["below"]) or "none"
    return (
        f"CodeQuest within {w['margin']} of semble-here or above on {w['count']} of {w['of']} "
        f"repositories (below: {below}); query p50 {_f(s.get('query_p50_ms'), 2)} ms, "
        f"{s['chunks_total']:,} chunks indexed in {s['index_s_total']} s"
    )


def render(section: dict[str, Any]) -> list[str]:
    """The readable part of the report."""
    if section.get("status") != "ok":
        return [f"\nrealrepos: {section.get('status')}: {section.get('reason')}"]
    summary = section["summary"]
    engine = section["settings"]["engine"]
    parts = [
        f"\nrealrepos NDCG@10 ({summary['repos']} repositories, {summary['queries']} queries; "
        f"{section['settings']['via']}, query encoder {engine.get('query_encoder')}; "
        "semble here: 0.7.0 with a static model distilled from all-MiniLM-L6-v2)",
        table(REPO_HEADERS, [_repo_cells(r) for r in section["repos"] if r.get("status") == "ok"]),
        "",
        table(["", *(LABELS[s] for s in SYSTEMS)], _summary_rows(section)),
        _within_line(section),
    ]
    for comparison, state in section["comparisons"].items():
        status = state.get("status") if isinstance(state, dict) else None
        if status not in (None, "ok"):
            parts.append(f"  {LABELS.get(comparison, comparison)}: {status}")
    for skipped in section.get("skipped", []):
        parts.append(f"  skipped {skipped['name']}: {skipped['reason']}")
    for row in section["repos"]:
        if row.get("status") != "ok":
            parts.append(f"  {row['name']} failed: {row.get('reason')}")
    if any(r.get("embedded_from_cache") for r in section["repos"]):
        parts.append("  * index built with some chunks' vectors from the embedding cache")
    return parts


def markdown(section: dict[str, Any]) -> str:
    """The README tables: per repository, then the means."""
    if section.get("status") != "ok":
        return ""
    headers = REPO_HEADERS
    lines = [
        "| " + " | ".join(headers) + " |",
        "|---|---|" + "---:|" * (len(headers) - 2),
    ]
    for row in section["repos"]:
        if row.get("status") == "ok":
            lines.append("| " + " | ".join(_repo_cells(row)) + " |")
    lines += ["", "| | " + " | ".join(LABELS[s] for s in SYSTEMS) + " |"]
    lines.append("|---|" + "---:|" * len(SYSTEMS))
    for cells in _summary_rows(section):
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _within_line(section) + ".", ""]
    return "\n".join(lines)


def plot(section: dict[str, Any], path: Path, title: str) -> bool:
    """Per-repository bars (CodeQuest, semble here, BM25) with semble's published figure."""
    import matplotlib.pyplot as plt

    rows = [r for r in section.get("repos", []) if r.get("status") == "ok"]
    if not rows:
        return False
    rows = sorted(rows, key=lambda r: (r["language"], r["name"]))
    series = [(CODEQUEST, "#1f77b4"), (SEMBLE_HERE, "#ff7f0e"), (BM25, "#9a9a9a")]
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(8.0, 0.42 * len(rows) + 2), 5.2))
    xs = range(len(rows))
    for i, (system, color) in enumerate(series):
        values = [r["ndcg10"].get(system) for r in rows]
        mean = section["summary"]["mean"].get(system)
        label = f"{LABELS[system]} (mean {_f(mean, 3)})"
        ax.bar(
            [x + (i - 1) * width for x in xs],
            [v if v is not None else 0.0 for v in values],
            width,
            label=label,
            color=color,
        )
    published = [r["ndcg10"].get(SEMBLE_PUBLISHED) for r in rows]
    mean = section["summary"]["mean"].get(SEMBLE_PUBLISHED)
    ax.plot(
        [x for x, v in zip(xs, published, strict=True) if v is not None],
        [v for v in published if v is not None],
        "k_",
        markersize=10,
        label=f"semble published, potion-code-16M (mean {_f(mean, 3)})",
    )
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{r['name']}\n{r['language']}" for r in rows], rotation=70, fontsize=7)
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("NDCG@10 (mean over the repository's queries)")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
