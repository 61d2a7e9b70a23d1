"""ExamplePool: gmat-sweep runs on a concurrent.futures.ProcessPoolExecutor.

A pool only moves work: it calls ``execute_batch(specs, reuse_gmat_context=...)`` in a
worker and hands back the list of RunOutcomes that returns. GMAT isolation, timeouts
and output files are execute_batch's job, and batch sizes, queueing and retries are the
driver's, so they behave the same on every backend.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import RunOutcome, RunSpec
from gmat_sweep.worker import execute_batch


class ExamplePool(Pool):
    """Runs each batch of specs in one of ``workers`` local processes.

    Args:
        workers: Number of worker processes (at least 1).
        reuse_gmat_context: Keep each worker's GMAT host for its next run.
    """

    name = "example"
    description = "Worker processes from concurrent.futures (an example plugin)."

    def __init__(self, workers: int = 2, *, reuse_gmat_context: bool = True) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            # A TypeError reaches users as "backend 'example' rejected its options: ...".
            raise TypeError(f"workers must be a whole number >= 1, got {workers!r}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def capacity(self) -> int:
        return self.workers

    def _get_executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("this ExamplePool is closed")
        if self._executor is None:
            # Started on first use, so workers inherit the environment (GMAT_ROOT)
            # as it is when the sweep begins. "spawn" behaves the same on every OS.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        batch = list(specs)
        try:
            return self._get_executor().submit(
                execute_batch, batch, reuse_gmat_context=self.reuse_gmat_context
            )
        except BrokenProcessPool:
            # A worker process died. The batches it held come back as futures that
            # raise, which gmat-sweep records as "lost" and resubmits; the executor
            # refuses new work, so replace it.
            self._shutdown_executor()
            return self._get_executor().submit(
                execute_batch, batch, reuse_gmat_context=self.reuse_gmat_context
            )

    def options(self) -> Mapping[str, Any]:
        # Recorded in each session line of the manifest.
        return {"workers": self.workers, "reuse_gmat_context": self.reuse_gmat_context}

    def _shutdown_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        # Idempotent, and it closes only what this pool created.
        if not self._closed:
            self._shutdown_executor()
            self._closed = True
