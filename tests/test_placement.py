"""The search helper thread is kept off the core of the thread that hands it work."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from codequest.search import helper as placement_mod
from codequest.search.helper import HelperPlacement


class _Affinity:
    """Stands in for the kernel's CPU masks, per native thread id."""

    def __init__(self, cpus: set[int]) -> None:
        self.cpus = cpus
        self.masks: dict[int, set[int]] = {}
        self.calls = 0
        self.fail = False

    def get(self, tid: int) -> set[int]:
        return set(self.masks.get(tid, self.cpus))

    def set(self, tid: int, mask: set[int]) -> None:
        self.calls += 1
        if self.fail:
            raise OSError("no such thread")
        self.masks[tid] = set(mask)


@pytest.fixture
def affinity(monkeypatch: pytest.MonkeyPatch) -> _Affinity:
    fake = _Affinity({0, 1, 2, 3})
    monkeypatch.setattr(placement_mod.os, "sched_getaffinity", fake.get, raising=False)
    monkeypatch.setattr(placement_mod.os, "sched_setaffinity", fake.set, raising=False)
    return fake


def _registered_on_a_thread(placement: HelperPlacement) -> int:
    pool = ThreadPoolExecutor(1, initializer=placement.register)
    try:
        return pool.submit(threading.get_native_id).result()
    finally:
        pool.shutdown()


def test_the_helper_may_use_every_cpu_but_the_callers(affinity: _Affinity):
    cpu = [2]
    placement = HelperPlacement(cpu_of_caller=lambda: cpu[0])
    helper = _registered_on_a_thread(placement)
    assert placement.active

    assert placement.keep_off_caller() == 2
    assert affinity.masks[helper] == {0, 1, 3}
    # The same CPU again: the mask is already right, so no system call.
    assert placement.keep_off_caller() == 2
    assert affinity.calls == 1
    # The caller moved: the helper may go back to the old CPU, not to the new one.
    cpu[0] = 0
    assert placement.keep_off_caller() == 0
    assert affinity.masks[helper] == {1, 2, 3}
    assert affinity.calls == 2


def test_a_cpu_outside_the_allowed_set_changes_nothing(affinity: _Affinity):
    placement = HelperPlacement(cpu_of_caller=lambda: 7)
    _registered_on_a_thread(placement)
    assert placement.keep_off_caller() is None
    assert affinity.calls == 0


def test_one_allowed_cpu_or_no_cpu_lookup_leaves_the_helper_alone(
    affinity: _Affinity, monkeypatch: pytest.MonkeyPatch
):
    affinity.cpus = {0}
    single = HelperPlacement(cpu_of_caller=lambda: 0)
    _registered_on_a_thread(single)
    assert not single.active and single.keep_off_caller() is None

    affinity.cpus = {0, 1}
    monkeypatch.setattr(placement_mod, "_cpu_lookup", lambda: None)  # no sched_getcpu
    unsupported = HelperPlacement()
    _registered_on_a_thread(unsupported)
    assert not unsupported.active and unsupported.keep_off_caller() is None
    assert affinity.calls == 0


def test_a_failed_placement_turns_itself_off(affinity: _Affinity):
    placement = HelperPlacement(cpu_of_caller=lambda: 1)
    _registered_on_a_thread(placement)
    affinity.fail = True
    assert placement.keep_off_caller() is None
    assert not placement.active
    assert placement.keep_off_caller() is None
    assert affinity.calls == 1


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and two CPUs",
)
def test_the_real_kernel_mask_leaves_out_the_callers_cpu():
    placement = HelperPlacement()
    assert placement.active is False  # nothing registered yet
    pool = ThreadPoolExecutor(1, initializer=placement.register)
    try:
        helper = pool.submit(threading.get_native_id).result()  # the thread stays alive
        avoided = placement.keep_off_caller()
        assert avoided is not None
        mask = os.sched_getaffinity(helper)
        assert avoided not in mask and mask == os.sched_getaffinity(0) - {avoided}
    finally:
        pool.shutdown()
