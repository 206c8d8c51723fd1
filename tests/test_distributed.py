"""Distributed embedding on a local Ray: same chunks, vectors and results as local indexing.

Skipped when ``ray`` is not installed (it comes with the ``cluster`` extra). One local Ray
is started for the module (2 CPUs, no dashboard) and shut down at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from codequest.config import Config
from codequest.index.store import Store
from codequest.types import SearchResult
from codequest.workspace import Workspace
from helpers import SAMPLE_PROJECT, write_tree

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'codequest[cluster]')")

from codequest.distributed import (  # noqa: E402 - after the skip
    CRASH_FLAG_ENV,
    ClusterPlan,
    cluster_plan,
    index_workspace_on_ray,
    plan_texts,
)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def _pair(make_project: Callable[..., Path], tmp_path: Path) -> tuple[Workspace, Workspace]:
    extra = {"lib/extra.go": "package lib\n\nfunc Twice(x int) int {\n\treturn 2 * x\n}\n"}
    local = make_project({**SAMPLE_PROJECT, **extra}, name="local")
    remote = make_project({**SAMPLE_PROJECT, **extra}, name="remote")
    return Workspace(local, Config(model="hashing")), Workspace(remote, Config(model="hashing"))


def _by_chunk(store: Store) -> dict[tuple[str, int, int, str], np.ndarray]:
    out = {}
    for record in store.chunks.values():
        key = (record.path, record.start_line, record.end_line, record.content_hash)
        out[key] = np.asarray(store.vectors.get(record.id, dtype=np.float32))
    return out


def _ranked(results: list[SearchResult]) -> list[dict[str, object]]:
    rows = [r.to_json() for r in results]
    return sorted(rows, key=lambda r: (-float(r["score"]), str(r["path"]), int(r["start_line"])))


def test_cluster_plan_prefers_gpus() -> None:
    assert cluster_plan({"CPU": 16, "GPU": 4}, None) == ClusterPlan(4, 1.0, 1.0)
    assert cluster_plan({"CPU": 8}, None) == ClusterPlan(7, 0.0, 1.0)
    assert cluster_plan({"CPU": 1}, None).actors == 1
    assert cluster_plan({"CPU": 8}, 3).actors == 3


def test_ray_index_matches_local_index(
    local_ray: None, make_project: Callable[..., Path], tmp_path: Path
) -> None:
    local, remote = _pair(make_project, tmp_path)
    expected = local.index()
    report = index_workspace_on_ray(remote, workers=1)
    assert (report.files, report.chunks, report.embedded) == (
        expected.files,
        expected.chunks,
        expected.embedded,
    )
    assert report.timings["ray_local_fallback"] == 0
    want, got = _by_chunk(local.store), _by_chunk(remote.store)
    assert want.keys() == got.keys()
    for key, vector in want.items():
        # The hashing encoder is deterministic; f16 storage rounds both sides the same way.
        np.testing.assert_array_equal(vector, got[key])
    for query in ("parse email address", "ComputeSha256", "retry with backoff", "Twice"):
        # Equal scores may come in either order: discovery order (and so chunk ids) follows
        # each folder's directory listing.
        assert _ranked(local.search(query)) == _ranked(remote.search(query))
    # The store on disk is the normal format: a plain Workspace loads it.
    assert len(Workspace(remote.root, Config(model="hashing")).store.chunks) == report.chunks


def test_unchanged_chunks_are_not_sent_to_the_cluster(
    local_ray: None, make_project: Callable[..., Path], tmp_path: Path
) -> None:
    _, ws = _pair(make_project, tmp_path)
    index_workspace_on_ray(ws, workers=1)
    assert plan_texts(ws.root, ws.config, ws.store) == {}
    write_tree(
        ws.root, {"lib/extra.go": "package lib\n\nfunc Thrice(x int) int {\n\treturn 3 * x\n}\n"}
    )
    todo = plan_texts(ws.root, ws.config, ws.store)
    assert len(todo) >= 1 and all("Thrice" in t or "lib/extra.go" in t for t in todo.values())
    report = index_workspace_on_ray(ws, workers=1)
    assert report.embedded == len(todo)
    assert ws.search("Thrice", limit=1)[0].path == "lib/extra.go"


def test_a_dying_worker_loses_no_chunks(
    local_ray: None,
    make_project: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local, remote = _pair(make_project, tmp_path)
    expected = local.index()
    flag = tmp_path / "crash-once"
    flag.write_text("")
    monkeypatch.setenv(CRASH_FLAG_ENV, str(flag))
    report = index_workspace_on_ray(remote, workers=1)
    assert not flag.exists(), "no actor ran into the crash flag"
    assert report.chunks == expected.chunks and report.timings["ray_local_fallback"] == 0
    assert _by_chunk(local.store).keys() == _by_chunk(remote.store).keys()


def test_an_interrupted_run_leaves_the_stored_index_valid(
    local_ray: None,
    make_project: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import codequest.distributed as distributed

    _, ws = _pair(make_project, tmp_path)
    before = index_workspace_on_ray(ws, workers=1)
    write_tree(ws.root, {"lib/new.py": "def brand_new():\n    return 1\n"})

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "embed_on_ray", interrupted)
    with pytest.raises(KeyboardInterrupt):
        index_workspace_on_ray(ws, workers=1)
    reloaded = Store.load(ws.cache_dir, model=ws.model_identity)
    assert len(reloaded.chunks) == before.chunks and "lib/new.py" not in reloaded.files
