"""The Pool contract: the one thing a backend implements.

A pool's whole job is transport: run :func:`gmat_sweep.worker.execute_batch` on a
batch of runs somewhere and hand its list of :class:`~gmat_sweep.spec.RunOutcome`
back. Isolation, timeouts and output writing live in ``execute_batch`` (one
``execute_run`` per spec), written once in core, so every backend behaves the same.
Deciding what to submit, how large each batch is, how much to queue, retrying lost
runs and noticing a pool that went quiet are core's (:mod:`gmat_sweep.dispatch`).

Contract for implementers (three members; everything else is optional):

- ``submit(specs)`` takes a non-empty sequence of :class:`~gmat_sweep.spec.RunSpec`,
  starts the work now (or queues it with the backend's scheduler) and returns a
  ``concurrent.futures.Future`` resolving to exactly what
  ``execute_batch(specs, reuse_gmat_context=self.reuse_gmat_context)`` returned: one
  outcome per spec, in the order given. It must not block until the batch runs.
  Core attaches a done-callback to the future and never calls ``result()`` before the
  future is done, so a pool need not offer ``as_completed`` or any waiting of its own.
- A future that raises (or is cancelled) means "this batch did not finish for reasons
  outside GMAT" (worker lost, pod evicted, node died). Core records every run of the
  batch as ``lost`` and resubmits them, up to ``max_retries`` per run. Never turn such
  a loss into ok outcomes, and never raise for a GMAT failure: ``execute_run`` already
  reports those as ``failed``/``crashed``/``timeout`` outcomes.
- ``capacity`` is how many runs the pool can execute at once *now* (worker slots),
  at least 1. Core keeps about two batches per slot in flight (one running, one
  queued, so no slot waits for a driver round trip) and may read it at any time,
  so it should be cheap (cache a scheduler query).
- ``close()`` is idempotent and releases only what the pool itself created: a
  cluster, client or runtime passed in by the caller is never torn down. A pool still
  open when the interpreter exits is closed then (a script that never called
  ``close()`` leaves no cluster, job or private folder behind); an error there is
  printed, not raised.

A future that never completes does not hang the driver: when the sweep has a per-run
``timeout``, a batch that outlives its runs' deadlines plus a grace is recorded
``lost`` and resubmitted; without one, a pool that goes quiet is reported.
"""

from __future__ import annotations

import atexit
import os
import sys
import weakref
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, ClassVar

from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = ["Pool"]


class _PoolMeta(ABCMeta):
    """Pools' metaclass: a pool is registered to be closed at exit once it is made (a
    constructor that raised leaves nothing to close, and a half-made pool is not)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        pool = super().__call__(*args, **kwargs)
        _close_at_exit(pool)
        return pool


class Pool(metaclass=_PoolMeta):
    """Base class of every backend (local, debug, dask, ray, slurm, third-party)."""

    #: The ``backend=`` string naming this pool ("local", "dask", ...).
    name: ClassVar[str] = ""
    #: One line shown by ``gmat-sweep backends``.
    description: ClassVar[str] = ""

    def __init__(self, *, reuse_gmat_context: bool = True, **options: Any) -> None:
        if options:
            unknown = ", ".join(sorted(options))
            raise TypeError(f"{type(self).__name__} got unexpected options: {unknown}")
        self.reuse_gmat_context = reuse_gmat_context
        # Whatever this pool starts on this machine must not outlive a killed driver.
        from gmat_sweep import reaper

        reaper.ensure_started()

    @property
    def capacity(self) -> int:
        """Run slots available now (workers x slots per worker). At least 1."""
        return 1

    @abstractmethod
    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        """Start running the batch ``specs``; the future resolves to one outcome per spec.

        The outcomes are those of ``gmat_sweep.worker.execute_batch(specs,
        reuse_gmat_context=self.reuse_gmat_context)``, in the order of ``specs``.
        """

    def options(self) -> Mapping[str, Any]:
        """JSON-serialisable description of how this pool was configured.

        Recorded in each ``session`` line of the manifest (``backend.options``). Override to add
        what a reader of the manifest should know (workers, address, sizing).
        """
        return {"reuse_gmat_context": self.reuse_gmat_context}

    def close(self) -> None:  # optional hook, no-op by default
        """Release what this pool created. Idempotent."""

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity})"


_open_pools: weakref.WeakSet[Pool] = weakref.WeakSet()
_exit_owner = 0  # the process whose exit closes _open_pools (a forked child has its own)


def _close_at_exit(pool: Pool) -> None:
    """Have ``pool`` closed when this process exits normally, unless it is gone by then.

    Registered after the watchdog's own exit hook (``Pool.__init__`` starts the
    watchdog, :func:`gmat_sweep.reaper.ensure_started`), so it runs before it: what a
    pool removes at close is removed before the watchdog is told the driver cleaned up
    after itself."""
    global _exit_owner
    if _exit_owner != os.getpid():
        _exit_owner = os.getpid()
        _open_pools.clear()  # a forked child's copy: its parent closes those
        atexit.register(_close_open_pools, _exit_owner)
    _open_pools.add(pool)


def _close_open_pools(owner: int) -> None:
    if os.getpid() != owner:
        return
    for pool in list(_open_pools):
        try:
            pool.close()
        except Exception as exc:  # at exit: say so, and close the others
            print(
                f"gmat-sweep: closing {type(pool).__name__} at exit failed "
                f"({type(exc).__name__}: {exc}); what it started may still run",
                file=sys.stderr,
            )
