"""The dispatcher: batch sizes, lost and overdue batches, a pool that goes quiet."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest

from gmat_sweep import dispatch
from gmat_sweep.dispatch import BatchSizer, Dispatcher, Finished
from gmat_sweep.pools.base import Pool
from gmat_sweep.pools.local import LocalPool
from gmat_sweep.spec import RunOutcome, RunSpec, Status, applied_digest
from gmat_sweep.testing import kit_script, manifest_lines

SCRIPT = kit_script()


def test_batches_start_at_one_run_and_grow_at_most_twofold() -> None:
    sizer = BatchSizer(target_s=0.3)
    assert sizer.next_size(remaining=10_000, capacity=2) == 1
    sizes = []
    for _ in range(8):
        sizer.observe([0.01] * sizer.size)  # 10 ms runs: the ideal batch is 30 runs
        sizes.append(sizer.size)
    assert sizes == [2, 4, 8, 16, 30, 30, 30, 30]
    assert sizer.next_size(remaining=10_000, capacity=2) == 30


def test_slow_runs_go_one_at_a_time() -> None:
    sizer = BatchSizer(target_s=0.3)
    for _ in range(5):
        sizer.observe([2.0])
    assert sizer.next_size(remaining=1000, capacity=4) == 1


def test_the_tail_is_spread_over_every_slot() -> None:
    sizer = BatchSizer(target_s=0.3)
    for _ in range(10):
        sizer.observe([0.001] * sizer.size)
    assert sizer.size == 300
    assert sizer.next_size(remaining=10_000, capacity=2) == 300
    assert sizer.next_size(remaining=80, capacity=2) == 10  # four batches per slot left
    assert sizer.next_size(remaining=7, capacity=2) == 1


class InstantPool(Pool):
    """Completes every batch at once with ok outcomes; records the batch sizes."""

    name = "instant"
    description = "test pool"

    def __init__(self, capacity: int = 4) -> None:
        super().__init__()
        self._capacity = capacity
        self.sizes: list[int] = []

    @property
    def capacity(self) -> int:
        return self._capacity

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        self.sizes.append(len(specs))
        done: Future[list[RunOutcome]] = Future()
        done.set_result(
            [
                RunOutcome(
                    s.run_id, s.attempt, Status.OK, duration_s=1e-4, applied=applied_digest(s)
                )
                for s in specs
            ]
        )
        return done


def _specs(n: int, timeout: float | None = None) -> Iterator[RunSpec]:
    for run_id in range(n):
        yield RunSpec(run_id, {"Sat.SMA": 7000.0 + run_id}, "s", "o", timeout=timeout)


def _dispatch(pool: Pool, n: int, timeout: float | None = None, retries: int = 2) -> list[Finished]:
    finished: list[Finished] = []
    Dispatcher(pool, max_retries=retries, on_finished=finished.extend, timeout=timeout).run(
        _specs(n, timeout), n
    )
    return finished


def test_every_run_ends_once_and_batches_grow_then_shrink() -> None:
    pool = InstantPool()
    finished = _dispatch(pool, 20_000)
    assert sorted(spec.run_id for spec, _, _ in finished) == list(range(20_000))
    assert all(final and outcome.ok for _, outcome, final in finished)
    assert pool.sizes[0] == 1 and max(pool.sizes) == dispatch.MAX_BATCH
    assert pool.sizes[-1] == 1


class LosesFirstAttempts(InstantPool):
    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if any(s.attempt == 1 and s.run_id % 3 == 0 for s in specs):
            lost: Future[list[RunOutcome]] = Future()
            lost.set_exception(ConnectionError("worker gone"))
            return lost
        return super().submit(specs)


def test_a_lost_batch_loses_only_its_runs_and_each_is_retried() -> None:
    finished = _dispatch(LosesFirstAttempts(capacity=2), 30)
    lost = [s for s, o, _ in finished if o.status is Status.LOST]
    assert lost and all(not final for _, o, final in finished if o.status is Status.LOST)
    assert all(
        o.error is not None and "worker gone" in o.error.message
        for _, o, _f in finished
        if not o.ok
    )
    ok = sorted(s.run_id for s, o, _ in finished if o.ok)
    assert ok == list(range(30))  # every lost run came back ok on a later attempt
    assert {s.attempt for s in lost} == {1}


class WrongCount(InstantPool):
    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        future = super().submit(specs)
        short: Future[list[RunOutcome]] = Future()
        short.set_result(future.result()[1:] if len(specs) > 1 else future.result())
        return short


def test_a_pool_returning_the_wrong_outcomes_is_named_as_the_bug() -> None:
    finished = _dispatch(WrongCount(capacity=1), 40, retries=0)
    bad = [o for _, o, _ in finished if o.status is Status.LOST]
    assert bad
    assert bad[0].error is not None and "bug in the backend" in bad[0].error.message


@pytest.fixture
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "HOST_START_ALLOWANCE_S", 0.5)
    monkeypatch.setattr(dispatch, "LOST_GRACE_S", 0.5)
    monkeypatch.setattr(dispatch, "POOL_START_ALLOWANCE_S", 1.0)


class DropsOneBatch(LocalPool):
    """Runs every batch but never completes the first one holding run 1."""

    dropped = False

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        future = super().submit(specs)
        if not self.dropped and any(s.run_id == 1 for s in specs):
            self.dropped = True
            return Future()
        return future


def test_a_future_that_never_completes_is_recorded_lost_and_rerun(
    gmat: Path, tmp_path: Path, short_deadlines: None
) -> None:
    from gmat_sweep import sweep

    with DropsOneBatch(2) as pool:
        df = sweep(SCRIPT, grid={"Sat.SMA": [7000.0, 7010.0, 7020.0, 7030.0]}, backend=pool,
                   out=tmp_path / "o", timeout=2.0, progress=False)  # fmt: skip
    assert (df["__status"] == "ok").all()
    lines = manifest_lines(tmp_path / "o", "run")
    lost = [r for r in lines if r["status"] == "lost"]
    assert [(r["run_id"], r["attempt"]) for r in lost] == [(1, 1)]
    assert lost[0]["error"]["type"] == "BatchOverdue"
    assert "did not return" in lost[0]["error"]["message"]
    assert sorted(r["run_id"] for r in lines if r["status"] == "ok") == [0, 1, 2, 3]


class NeverCompletes(Pool):
    name = "silent"
    description = "accepts batches and never completes them"

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        return Future()


def test_a_pool_that_never_completes_anything_ends_in_lost_runs(short_deadlines: None) -> None:
    finished = _dispatch(NeverCompletes(), 3, timeout=0.5, retries=1)
    final = [(s.run_id, s.attempt) for s, o, f in finished if f]
    assert sorted(final) == [(0, 2), (1, 2), (2, 2)]
    assert all(o.status is Status.LOST for _, o, _ in finished)


class SlowFirstBatch(InstantPool):
    """Completes the first batch only after a second, from another thread."""

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if self.sizes:
            return super().submit(specs)
        self.sizes.append(len(specs))
        late: Future[list[RunOutcome]] = Future()
        outcomes = [
            RunOutcome(s.run_id, s.attempt, Status.OK, applied=applied_digest(s)) for s in specs
        ]
        threading.Timer(1.0, late.set_result, args=(outcomes,)).start()
        return late


def test_a_quiet_pool_is_reported_without_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "QUIET_REPORT_S", 0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        finished = _dispatch(SlowFirstBatch(capacity=1), 2)
    assert len(finished) == 2
    assert any("no run has come back" in str(w.message) for w in caught)
