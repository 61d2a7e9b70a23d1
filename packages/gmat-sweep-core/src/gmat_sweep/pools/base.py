"""The Pool contract: the one thing a backend implements.

A pool's whole job is transport: run :func:`gmat_sweep.worker.execute_run` somewhere
and hand its :class:`~gmat_sweep.spec.RunOutcome` back. Isolation, timeouts and
output writing live in ``execute_run``, written once in core, so every backend
behaves the same.

Contract for implementers:

- ``submit(spec)`` starts the work now and returns a ``concurrent.futures.Future``
  (or any object with ``result()`` / ``done()``) resolving to the RunOutcome that
  ``execute_run(spec, reuse_gmat_context=self.reuse_gmat_context)`` returned.
- A future that raises means "this run did not finish for reasons outside GMAT"
  (worker lost, pod evicted, node died). Core records the attempt as ``lost`` and
  resubmits it up to ``max_retries`` times. Never turn such a loss into an ok
  outcome, and never raise for a GMAT failure: ``execute_run`` already reports
  those as ``failed``/``crashed``/``timeout`` outcomes.
- ``as_completed(futures)`` yields the given futures as they finish, in completion
  order, and may be called repeatedly with the futures currently in flight.
- ``capacity`` is how many runs the pool can execute at once *now*; the
  orchestrator keeps about that many in flight and may read it again at any time.
- ``close()`` is idempotent and releases only what the pool itself created: a
  cluster, client or runtime passed in by the caller is never torn down.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, ClassVar

from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = ["Pool"]


class Pool(ABC):
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

    @property
    def capacity(self) -> int:
        """Run slots available now (workers x slots per worker). At least 1."""
        return 1

    @abstractmethod
    def submit(self, spec: RunSpec) -> Future[RunOutcome]:
        """Start running ``spec`` now; the future resolves to its RunOutcome."""

    @abstractmethod
    def as_completed(self, futures: Iterable[Future[RunOutcome]]) -> Iterator[Future[RunOutcome]]:
        """Yield ``futures`` as they complete."""

    def options(self) -> Mapping[str, Any]:
        """JSON-serialisable description of how this pool was configured.

        Recorded in each ``session`` line of the manifest (``backend.options``). Override to add
        what a reader of the manifest should know (workers, address, sizing).
        """
        return {"reuse_gmat_context": self.reuse_gmat_context}

    def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
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
