"""The lexical helper thread: one shared thread that does a search's lexical side.

A search encodes the query on the calling thread while this thread does query
understanding, BM25, the symbol table and the candidates' vectors
(:func:`codequest.search.candidates.lexical_side`). The overlap only pays when the two run
on different cores, and schedulers like to wake the helper on the encoding thread's core,
where it waits until it is moved (docs/measurements.md has the A/B).

So before each hand-off the searching thread looks up its own CPU (``sched_getcpu``) and,
when that changed, allows the helper every other CPU the process may use
(:class:`HelperPlacement`). On a machine with more cores this only rules out the one core
that is busy anyway. It needs Linux (``os.sched_setaffinity`` and the C library's
``sched_getcpu``); elsewhere, or with a single allowed CPU, it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


def _cpu_lookup() -> Callable[[], int] | None:
    """The C library's ``sched_getcpu`` (a microsecond through ctypes), or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        getcpu = ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    getcpu.restype = ctypes.c_int
    getcpu.argtypes = []
    return getcpu


class HelperPlacement:
    """Where one helper thread may run: any allowed CPU but the caller's current one.

    ``register`` runs on the helper (as its thread pool's initializer); ``keep_off_caller``
    runs on the thread about to hand it work. Two searching threads calling at once can at
    worst both set the mask, which is harmless, so there is no lock.
    """

    def __init__(self, cpu_of_caller: Callable[[], int] | None = None) -> None:
        self._cpu_of_caller = cpu_of_caller if cpu_of_caller is not None else _cpu_lookup()
        self._helper: int | None = None  # native thread id
        self._allowed: frozenset[int] = frozenset()
        self._avoided: int | None = None

    @property
    def helper_thread(self) -> int | None:
        """The helper's native thread id, once registered (and while placement works)."""
        return self._helper

    @property
    def active(self) -> bool:
        return self._helper is not None and self._cpu_of_caller is not None

    def register(self) -> None:
        """Record the calling thread as the helper, with the CPUs it may use now."""
        if self._cpu_of_caller is None:
            return
        try:
            allowed = frozenset(os.sched_getaffinity(0))
        except OSError:
            return
        if len(allowed) < 2:
            return
        self._allowed = allowed
        self._helper = threading.get_native_id()

    def keep_off_caller(self) -> int | None:
        """Keep the helper off the calling thread's CPU; returns the CPU avoided, if any."""
        helper, cpu_of_caller = self._helper, self._cpu_of_caller
        if helper is None or cpu_of_caller is None:
            return None
        cpu = cpu_of_caller()
        if cpu == self._avoided:
            return cpu
        if cpu not in self._allowed:
            return None
        try:
            os.sched_setaffinity(helper, self._allowed - {cpu})
        except OSError as err:  # the helper is gone, or the CPU set shrank under us
            log.debug("could not place the search helper thread: %s", err)
            self._helper = None
            return None
        self._avoided = cpu
        return cpu


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
PLACEMENT = HelperPlacement()
# os.cpu_count() reads /sys on every call; once a process is enough.
CPUS = os.cpu_count() or 1


def side_pool() -> ThreadPoolExecutor | None:
    """The one helper thread, started on first use; None on a single core, where the
    overlap cannot happen."""
    global _POOL
    if CPUS < 2:
        return None
    if _POOL is not None:
        return _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                1, thread_name_prefix="codequest-lexical", initializer=PLACEMENT.register
            )
        return _POOL
