"""Dispatch: batches of runs onto a pool, completions back, lost runs retried.

:class:`Dispatcher` is the driver's loop between the orchestrator and a
:class:`~gmat_sweep.pools.base.Pool`:

- Runs go out in batches (one ``pool.submit`` per batch) sized by :class:`BatchSizer`
  the way joblib sizes its batches: one run at first, then grown from the measured run
  durations until a batch takes about :data:`TARGET_BATCH_S`, and shrunk near the end
  so the last runs spread over every slot.
- About :data:`BATCHES_PER_SLOT` batches per slot of ``pool.capacity`` are in flight (at
  most :data:`MAX_RUNS_IN_FLIGHT` runs), so a worker that finishes a batch finds the next
  one already queued with its scheduler instead of waiting for a driver round trip; the
  backend's scheduler, not the driver, decides which worker takes a queued batch, so no
  work is pinned behind a straggler.
- Completions arrive through done-callbacks into one queue: each finished batch is
  handled once, every batch that finished is handled on each wake-up, and nothing is
  re-armed per completion (O(1) per batch).
- A batch whose future raises is ``lost``: each of its runs is resubmitted up to
  ``max_retries`` times (per session). With a per-run ``timeout``, a batch that does not
  come back within its deadline (see :meth:`Dispatcher._deadline`) is recorded ``lost``
  and resubmitted too, so a pool that drops a future cannot hang the sweep; without a
  timeout, a pool that goes quiet for :data:`QUIET_REPORT_S` is reported as a warning
  (and again after twice as long, and so on).
"""

from __future__ import annotations

import functools
import heapq
import math
import queue
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import ErrorInfo, RunOutcome, RunSpec, Status, applied_digest

__all__ = ["BatchSizer", "Dispatcher", "Finished"]

#: A batch is grown until it takes about this long in a worker (seconds). At 0.3 s, the
#: Dask, Ray and Slurm pools ran 600 runs of ~17 ms at 0.88-0.91 of the local pool's
#: rate; at 0.6 s, 0.91-0.93 (fewer round trips; the end still spreads, see shrink).
TARGET_BATCH_S = 0.6
#: Largest batch, whatever the run durations (a lost batch costs at most this many runs).
MAX_BATCH = 512
#: Batches kept in flight per slot of the pool's capacity.
BATCHES_PER_SLOT = 2
#: Most runs in flight at once, whatever the capacity: what the driver holds for them
#: (specs, then outcomes awaiting commit) stays bounded when runs cost next to nothing.
MAX_RUNS_IN_FLIGHT = 16_384
#: Allowance per batch for starting a GMAT host, on top of its runs' timeouts (seconds).
HOST_START_ALLOWANCE_S = 60.0
#: Grace added to every batch deadline (seconds).
LOST_GRACE_S = 30.0
#: Until the pool has completed a batch, deadlines count from submission plus this (seconds).
POOL_START_ALLOWANCE_S = 600.0
#: Without a timeout, warn when no batch has finished for this long (seconds).
QUIET_REPORT_S = 600.0

#: One run's end as the dispatcher hands it over: spec, outcome, and whether it is final
#: (False: the run is lost and will be resubmitted).
Finished = tuple[RunSpec, RunOutcome, bool]


class BatchSizer:
    """Runs per batch, from measured run durations (joblib's auto-batching, by run time).

    Starts at one run. After each batch, the ideal size is ``TARGET_BATCH_S`` over the
    mean run duration seen so far (an exponential average), reached by at most doubling
    per batch. :meth:`next_size` also caps the size so that the runs left fill at least
    four batches per slot: the last runs spread over every slot instead of queuing behind
    one worker.
    """

    def __init__(self, target_s: float = TARGET_BATCH_S, max_size: int = MAX_BATCH) -> None:
        self.target_s = target_s
        self.max_size = max_size
        self.size = 1
        self.run_s: float | None = None

    def observe(self, durations: list[float]) -> None:
        """Fold in the worker-side durations (seconds) of one finished batch's runs."""
        if not durations:
            return
        mean = max(sum(durations) / len(durations), 1e-6)
        self.run_s = mean if self.run_s is None else 0.7 * self.run_s + 0.3 * mean
        ideal = max(1, min(self.max_size, round(self.target_s / self.run_s)))
        self.size = min(ideal, 2 * self.size)

    def next_size(self, remaining: int, capacity: int) -> int:
        """Runs for the next batch, with ``remaining`` runs left and ``capacity`` slots."""
        tail_cap = math.ceil(remaining / (4 * max(1, capacity)))
        return max(1, min(self.size, tail_cap, remaining))


@dataclass
class _Batch:
    specs: tuple[RunSpec, ...]
    submitted: float  # time.monotonic()
    submitted_wall: float  # time.time(), for the lost outcomes' timestamps
    queued_per_slot: float
    future: Future[list[RunOutcome]]


class Dispatcher:
    """Runs specs on a pool until each has a final outcome (see the module docstring).

    Args:
        pool: Where the runs go.
        max_retries: Resubmissions of a lost run, per run, in this session.
        on_finished: Called with every run that ended since the last call (a list of
            :data:`Finished`), in the driver's thread, before more work is handled; the
            orchestrator records them in the manifest there. An exception it raises
            stops the dispatch (pending batches are cancelled) and propagates.
        timeout: The runs' per-run timeout (None: none), for batch deadlines.
        on_in_flight: Called with the number of runs in flight after each round of
            submissions (for a progress bar).
        tick: Called in the driver's thread whenever the loop wakes without a completion
            and after each ``on_finished``; returns the seconds until it wants to be
            called again (None: not before the next completion). The orchestrator
            commits a group whose window has passed there. Exceptions propagate as
            ``on_finished``'s do.
    """

    def __init__(
        self,
        pool: Pool,
        *,
        max_retries: int,
        on_finished: Callable[[list[Finished]], None],
        timeout: float | None,
        on_in_flight: Callable[[int], None] | None = None,
        tick: Callable[[], float | None] | None = None,
    ) -> None:
        self.pool = pool
        self.max_retries = max_retries
        self.on_finished = on_finished
        self.on_in_flight = on_in_flight
        self.timeout = timeout
        self.tick = tick
        self._tick_at: float | None = None
        self.sizer = BatchSizer()
        self._done: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._in_flight: dict[int, _Batch] = {}
        self._deadlines: list[tuple[float, int]] = []
        self._retries: deque[RunSpec] = deque()
        self._losses: Counter[int] = Counter()
        self._next_id = 0
        self._runs_in_flight = 0
        self._first_completion: float | None = None
        self._last_completion = time.monotonic()
        self._quiet_after = QUIET_REPORT_S

    def run(self, specs: Iterator[RunSpec], total: int) -> None:
        """Dispatch ``total`` runs from ``specs`` (plus their retries) until all have ended.

        Raises:
            Whatever ``on_finished`` or ``pool.submit`` raise, and KeyboardInterrupt; the
            batches still in flight are cancelled first.
        """
        remaining = total  # runs not yet submitted, including retries
        try:
            while True:
                remaining = self._fill(specs, remaining)
                if self.on_in_flight is not None:
                    self.on_in_flight(self._runs_in_flight)
                if not self._in_flight:
                    return
                finished = self._wait()
                for spec, _outcome, final in finished:
                    if not final:
                        self._retries.append(replace(spec, attempt=spec.attempt + 1))
                        remaining += 1
                if finished:
                    self.on_finished(finished)
                    self._call_tick()
        except BaseException:
            for batch in self._in_flight.values():
                batch.future.cancel()
            raise

    # -- submitting ------------------------------------------------------------------

    def _fill(self, specs: Iterator[RunSpec], remaining: int) -> int:
        capacity = max(1, self.pool.capacity)
        while (
            remaining > 0
            and len(self._in_flight) < BATCHES_PER_SLOT * capacity
            and self._runs_in_flight < MAX_RUNS_IN_FLIGHT
        ):
            size = self.sizer.next_size(remaining, capacity)
            batch: list[RunSpec] = []
            while len(batch) < size and self._retries:
                batch.append(self._retries.popleft())
            while len(batch) < size:
                spec = next(specs, None)
                if spec is None:
                    break
                batch.append(spec)
            if not batch:
                return 0
            remaining -= len(batch)
            self._submit(tuple(batch), len(self._in_flight) / capacity)
        return remaining

    def _submit(self, specs: tuple[RunSpec, ...], queued_per_slot: float) -> None:
        batch_id = self._next_id
        self._next_id += 1
        future = self.pool.submit(specs)
        batch = _Batch(specs, time.monotonic(), time.time(), queued_per_slot, future)
        self._in_flight[batch_id] = batch
        self._runs_in_flight += len(specs)
        deadline = self._deadline(batch)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, batch_id))
        future.add_done_callback(functools.partial(_notify, self._done, batch_id))

    def _deadline(self, batch: _Batch) -> float | None:
        """When a batch counts as lost: None without a timeout.

        The clock starts when the batch was submitted, or (for batches submitted before the
        pool completed anything) :data:`POOL_START_ALLOWANCE_S` later; the allowance is the
        batch's own budget (its runs' timeouts plus :data:`HOST_START_ALLOWANCE_S`) times
        the batches queued ahead of it per slot plus one, plus :data:`LOST_GRACE_S`.
        """
        if self.timeout is None:
            return None
        start = batch.submitted
        if self._first_completion is None:
            start += POOL_START_ALLOWANCE_S
        budget = len(batch.specs) * self.timeout + HOST_START_ALLOWANCE_S
        return start + (math.floor(batch.queued_per_slot) + 1) * budget + LOST_GRACE_S

    # -- completions -----------------------------------------------------------------

    def _wait(self) -> list[Finished]:
        """Block until at least one batch finished or went overdue; return its runs."""
        finished: list[Finished] = []
        while not finished:
            try:
                batch_id = self._done.get(timeout=self._wake_in())
            except queue.Empty:
                finished.extend(self._expire_overdue())
                self._report_if_quiet()
                if self._tick_at is not None and time.monotonic() >= self._tick_at:
                    self._call_tick()
                continue
            finished.extend(self._complete(batch_id))
            while True:  # every batch that is done now, in one wake-up
                try:
                    batch_id = self._done.get_nowait()
                except queue.Empty:
                    break
                finished.extend(self._complete(batch_id))
            finished.extend(self._expire_overdue())
        return finished

    def _call_tick(self) -> None:
        if self.tick is None:
            return
        wait = self.tick()
        self._tick_at = None if wait is None else time.monotonic() + wait

    def _wake_in(self) -> float:
        now = time.monotonic()
        wake = self._last_completion + self._quiet_after - now
        if self._deadlines:
            wake = min(wake, self._deadlines[0][0] - now)
        if self._tick_at is not None:
            wake = min(wake, self._tick_at - now)
        return max(0.01, wake)

    def _complete(self, batch_id: int) -> list[Finished]:
        batch = self._in_flight.pop(batch_id, None)
        if batch is None:  # declared lost earlier; its late result is ignored
            return []
        self._runs_in_flight -= len(batch.specs)
        now = time.monotonic()
        self._last_completion = now
        self._quiet_after = QUIET_REPORT_S
        if self._first_completion is None:
            self._first_completion = now
            self._restart_deadlines()
        outcomes = _outcomes_of(self.pool, batch)
        self.sizer.observe([o.duration_s for o in outcomes if o.status is not Status.LOST])
        pairs = zip(batch.specs, outcomes, strict=True)
        return [self._finish(spec, outcome) for spec, outcome in pairs]

    def _finish(self, spec: RunSpec, outcome: RunOutcome) -> Finished:
        final = True
        if outcome.status is Status.LOST:
            self._losses[spec.run_id] += 1
            final = self._losses[spec.run_id] > self.max_retries
        return spec, outcome, final

    def _restart_deadlines(self) -> None:
        """The pool has started: deadlines now count from each batch's submission."""
        self._deadlines = []
        for batch_id, batch in self._in_flight.items():
            deadline = self._deadline(batch)
            if deadline is not None:
                self._deadlines.append((deadline, batch_id))
        heapq.heapify(self._deadlines)

    def _expire_overdue(self) -> list[Finished]:
        now = time.monotonic()
        finished: list[Finished] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _deadline, batch_id = heapq.heappop(self._deadlines)
            batch = self._in_flight.pop(batch_id, None)
            if batch is None:
                continue
            self._runs_in_flight -= len(batch.specs)
            batch.future.cancel()
            waited = now - batch.submitted
            error = ErrorInfo(
                "BatchOverdue",
                f"the {self.pool.name or type(self.pool).__name__} backend did not return this "
                f"run's batch of {len(batch.specs)} within {waited:.0f} s, although each run "
                f"has a timeout of {self.timeout:g} s; the worker or the pool lost it",
            )
            for spec in batch.specs:
                finished.append(self._finish(spec, _lost(spec, batch, error)))
        return finished

    def _report_if_quiet(self) -> None:
        now = time.monotonic()
        quiet = now - self._last_completion
        if quiet < self._quiet_after or not self._in_flight:
            return
        warnings.warn(
            f"gmat-sweep: no run has come back from the {self.pool.name or 'pool'} backend for "
            f"{quiet / 60:.0f} min ({self._runs_in_flight} runs in {len(self._in_flight)} "
            "batches in flight). If the workers are gone, stop the sweep (Ctrl-C) and resume "
            "it; set a per-run timeout so runs that never come back are recorded lost and "
            "retried by themselves.",
            UserWarning,
            stacklevel=2,
        )
        self._quiet_after *= 2


def _notify(done: queue.SimpleQueue[int], batch_id: int, _future: object) -> None:
    """The done-callback of every batch: O(1), from whatever thread completes it."""
    done.put(batch_id)


def _outcomes_of(pool: Pool, batch: _Batch) -> list[RunOutcome]:
    """The batch's outcomes, or one ``lost`` outcome per run when the backend failed it."""
    future = batch.future
    if future.cancelled():
        error = ErrorInfo("Cancelled", "the backend cancelled this run's batch")
        return [_lost(spec, batch, error) for spec in batch.specs]
    exc = future.exception()
    if exc is not None:  # the backend lost the batch: not GMAT's doing
        error = ErrorInfo(type(exc).__name__, str(exc) or repr(exc))
        return [_lost(spec, batch, error) for spec in batch.specs]
    outcomes = future.result()
    problem = _mismatch(batch.specs, outcomes)
    if problem is not None:
        message = (
            f"the {pool.name or type(pool).__name__} backend returned {problem}; this is a bug "
            "in the backend (a pool must return execute_batch's outcomes as they are)"
        )
        error = ErrorInfo("BackendError", message)
        return [_lost(spec, batch, error) for spec in batch.specs]
    return list(outcomes)


def _mismatch(specs: tuple[RunSpec, ...], outcomes: object) -> str | None:
    if not isinstance(outcomes, list) or len(outcomes) != len(specs):
        count = len(outcomes) if isinstance(outcomes, list) else type(outcomes).__name__
        return f"{count} outcomes for a batch of {len(specs)} runs"
    for spec, outcome in zip(specs, outcomes, strict=True):
        if not isinstance(outcome, RunOutcome):
            return f"a {type(outcome).__name__} where run {spec.run_id}'s RunOutcome belongs"
        if outcome.run_id != spec.run_id or outcome.attempt != spec.attempt:
            return (
                f"the outcome of run {outcome.run_id} attempt {outcome.attempt} where run "
                f"{spec.run_id} attempt {spec.attempt} belongs"
            )
        if outcome.applied != applied_digest(spec):
            return (
                f"the outcome of run {spec.run_id} from a run given other overrides, "
                "retention or script than the driver sent (or not made by execute_batch)"
            )
    return None


def _lost(spec: RunSpec, batch: _Batch, error: ErrorInfo) -> RunOutcome:
    now = time.time()
    return RunOutcome(
        run_id=spec.run_id,
        attempt=spec.attempt,
        status=Status.LOST,
        started_at=datetime.fromtimestamp(batch.submitted_wall, timezone.utc).isoformat(),
        ended_at=datetime.fromtimestamp(now, timezone.utc).isoformat(),
        duration_s=now - batch.submitted_wall,
        error=error,
    )
