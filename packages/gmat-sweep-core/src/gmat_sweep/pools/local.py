"""The built-in pools: LocalJoblibPool (the default) and DebugPool."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any

from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import RunOutcome, RunSpec
from gmat_sweep.worker import execute_run, execute_run_in_process

__all__ = ["DebugPool", "LocalJoblibPool"]


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


class LocalJoblibPool(Pool):
    """Runs on this machine in joblib's loky worker processes.

    Each worker process keeps its GMAT host between runs (``reuse_gmat_context``),
    so GMAT's start-up is paid once per worker. A worker process that dies is
    replaced; the runs it held come back as ``lost`` and are resubmitted by core.

    Args:
        workers: Number of worker processes; -1 (default) uses every core, -2 all
            but one.
        reuse_gmat_context: Keep each worker's GMAT host for the next run.
    """

    name = "local"
    description = "Worker processes on this machine (joblib/loky); the default."

    def __init__(self, workers: int = -1, *, reuse_gmat_context: bool = True) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)
        self.workers = _resolve_workers(workers)
        self._executor: Any = None
        self._closed = False

    @property
    def capacity(self) -> int:
        return self.workers

    def _get_executor(self) -> Any:
        if self._closed:
            raise RuntimeError("this LocalJoblibPool is closed")
        if self._executor is None:
            from joblib.externals.loky import ProcessPoolExecutor

            self._executor = ProcessPoolExecutor(max_workers=self.workers)
        return self._executor

    def submit(self, spec: RunSpec) -> Future[RunOutcome]:
        from joblib.externals.loky.process_executor import BrokenProcessPool

        try:
            future: Future[RunOutcome] = self._get_executor().submit(
                execute_run, spec, reuse_gmat_context=self.reuse_gmat_context
            )
        except (BrokenProcessPool, RuntimeError):
            if self._closed:
                raise
            # A worker died and took the executor with it: start a fresh one.
            self._discard_executor()
            future = self._get_executor().submit(
                execute_run, spec, reuse_gmat_context=self.reuse_gmat_context
            )
        return future

    def as_completed(self, futures: Iterable[Future[RunOutcome]]) -> Iterator[Future[RunOutcome]]:
        return concurrent.futures.as_completed(list(futures))

    def options(self) -> Mapping[str, Any]:
        return {"workers": self.workers, "reuse_gmat_context": self.reuse_gmat_context}

    def _discard_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)

    def close(self) -> None:
        if self._closed:
            return
        self._discard_executor()
        self._closed = True


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

    def submit(self, spec: RunSpec) -> Future[RunOutcome]:
        future: Future[RunOutcome] = Future()
        future.set_result(execute_run_in_process(spec))
        return future

    def as_completed(self, futures: Iterable[Future[RunOutcome]]) -> Iterator[Future[RunOutcome]]:
        return iter(list(futures))
