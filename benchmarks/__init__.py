"""CodeQuest's headless benchmarks: quality, latency, indexing throughput and memory.

Run them from a clone with ``codequest bench`` (or ``python -m benchmarks``); ``--quick``
is the CI smoke run. The package is not in the wheel. Every number comes from the shipped
engine: the same ``Store``, ``Searcher``, ``Workspace`` and language server the product
uses. Results are written as JSON keyed by commit and machine under
``benchmarks/results/``, with plots made from that JSON.

Modules, one concern each:

* :mod:`benchmarks.common` gathers the commit, machine and load facts every result records.
* :mod:`benchmarks.beir` loads BEIR-format sets and averages the metrics of
  :mod:`codequest.metrics` (MRR, NDCG, recall) over them.
* :mod:`benchmarks.memstore` builds an in-memory ``Store`` from records and vectors.
* :mod:`benchmarks.quality` evaluates encoder/ranking configurations on BEIR sets.
* :mod:`benchmarks.stdlib_bench` materialises, indexes and scores stdlib-bench.
* :mod:`benchmarks.synthetic` builds large synthetic stores (10k to 1M chunks).
* :mod:`benchmarks.latency` times query encoding and in-process search, with HNSW recall.
* :mod:`benchmarks.lsp_client` is the one LSP client; :mod:`benchmarks.lsp_bench` and
  :mod:`benchmarks.lsp_ab` time ``codequest/search`` round trips against a real
  ``codequest serve``, and :mod:`benchmarks.soak` drives one with bursts of searches while
  files change.
* :mod:`benchmarks.indexing` measures cold, warm and one-edit indexing in a child process.
* :mod:`benchmarks.realrepos` scores semble's annotations on 32 pinned real repositories
  (:mod:`benchmarks.realrepos_search` runs CodeQuest on one, :mod:`benchmarks.realrepos_bm25`
  is the set's BM25 baseline, :mod:`benchmarks.realrepos_report` draws it, and
  :mod:`benchmarks.realrepos_agree` scores a run with the set's own ``eval.py`` too);
  :mod:`benchmarks.realrepos_cv` chooses the ranking weights on it by leave-one-repository-out
  cross-validation and prints the ablation rows.
* :mod:`benchmarks.report` prints the table and writes the JSON and plots.
* :mod:`benchmarks.ranking` and :mod:`benchmarks.distill_report` are the ranking ablations
  and the distilled query encoders' study (scripts of their own).
* :mod:`benchmarks.run` ties them together (the ``bench`` sub-command).
"""
