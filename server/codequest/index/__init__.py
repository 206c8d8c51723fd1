"""The index: what is stored for a workspace, how it is read, and how it is kept current.

* :mod:`.records`: the rows (``ChunkRecord``, ``FileRecord``);
* :mod:`.view`: ``StoreView``, the protocol search and the language server read through;
* :mod:`.store`: ``Store``, one folder's records, terms and vectors, in memory;
* :mod:`.persist`: that folder on disk (format, atomic commit, writer lock);
* :mod:`.vectors`: the usearch HNSW index and its settings;
* :mod:`.layered`: ``LayeredStore``, a read-only prebuilt base plus a local overlay;
* :mod:`.lexical`: BM25 over identifier-split terms;
* :mod:`.indexer`: incremental indexing, discover -> chunk -> reuse -> embed -> store.

Importing this package imports nothing heavy; import the module you need.
"""
