"""The built-in pools: LocalPool (the default) and DebugPool."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from gmat_sweep import hosts
from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import RunOutcome, RunSpec
from gmat_sweep.worker import execute_run, execute_run_in_process

__all__ = ["DebugPool", "LocalJoblibPool", "LocalPool"]

# How long close() lets a running batch finish before killing its GMAT process.
_CLOSE_GRACE_S = 2.0

_Work = tuple[tuple[RunSpec, ...], "Future[list[RunOutcome]]"]


def _resolve_workers(workers: int) -> int:
    """joblib's convention: -1 is every core, -2 all but one, and so on."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers == 0:
        raise ValueError(
            f"workers must be a positive number of processes or -1 for every core, got {workers!r}"
        )
    if workers > 0:
        return workers
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores + 1 + workers)


class LocalPool(Pool):
    """Runs on this machine: one GMAT host process per worker, driven from this process.

    Each worker is a thread of the driver that sends runs straight to its own GMAT host
    process (no relay process in between), so a run costs what GMAT costs plus a pipe
    round trip. GMAT still runs outside the driver: a run that crashes GMAT ends
    ``crashed`` alone and its worker starts a new host; a hung run is killed at its
    ``timeout``. Each host is reused for the next run of the same script
    (``reuse_gmat_context``), so GMAT's start-up is paid once per worker. Hosts exit
    with the driver, even when it is killed.

    Args:
        workers: Number of GMAT processes run at once; -1 (default) uses every core,
            -2 all but one.
        reuse_gmat_context: Keep each worker's GMAT host for the next run.

    Raises:
        ValueError: ``workers`` is 0 or not an integer.
    """

    name = "local"
    description = "GMAT processes on this machine, one per core (the default)."

    def __init__(self, workers: int = -1, *, reuse_gmat_context: bool = True) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)
        self.workers = _resolve_workers(workers)
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def capacity(self) -> int:
        return self.workers

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        future: Future[list[RunOutcome]] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("this LocalPool is closed")
            if not self._threads:
                self._start_threads()
            self._work.put((tuple(specs), future))
        return future

    def _start_threads(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._serve, name=f"gmat-sweep-local-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _serve(self) -> None:
        """One worker: take batches until told to stop; close its GMAT host at the end."""
        try:
            while (item := self._work.get()) is not None:
                specs, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                outcomes: list[RunOutcome] = []
                for spec in specs:  # execute_batch's loop, stopping early when the pool closes
                    if self._closed:
                        future.set_exception(RuntimeError("the LocalPool was closed"))
                        break
                    outcomes.append(execute_run(spec, reuse_gmat_context=self.reuse_gmat_context))
                else:
                    future.set_result(outcomes)
        finally:
            hosts.close_thread_host()

    def options(self) -> Mapping[str, Any]:
        return {"workers": self.workers, "reuse_gmat_context": self.reuse_gmat_context}

    def close(self) -> None:
        """Cancel queued batches, let running ones finish briefly, then kill their GMAT."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._work.get_nowait()
                if item is not None:
                    item[1].cancel()
        for _ in threads:
            self._work.put(None)
        for thread in threads:
            thread.join(_CLOSE_GRACE_S)
            if thread.is_alive() and thread.ident is not None:
                hosts.kill_thread_host(thread.ident)
                thread.join(_CLOSE_GRACE_S)


#: The default pool's former name (it ran on joblib's loky processes); the same class.
LocalJoblibPool = LocalPool


class DebugPool(Pool):
    """Runs each spec in this very process, one at a time, for debugging.

    ``breakpoint()`` and debuggers work inside GMAT's run, and GMAT's output goes to
    your terminal. Use it on one run (``samples=`` with one row) while developing a
    script; it is not for production: no timeout is enforced and a GMAT crash ends
    this Python process.
    """

    name = "debug"
    description = "One run at a time inside this Python process, for breakpoint() debugging."

    def __init__(self, *, reuse_gmat_context: bool = True) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        future: Future[list[RunOutcome]] = Future()
        future.set_result([execute_run_in_process(spec) for spec in specs])
        return future
