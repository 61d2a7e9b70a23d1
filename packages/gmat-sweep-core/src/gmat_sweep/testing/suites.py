"""The backend test kit: pytest base classes that prove a Pool behaves.

A plugin's tests subclass the suites and implement ``make_pool``::

    from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite

    class TestMyPoolContract(PoolContractSuite):
        def make_pool(self):
            return MyPool(workers=2)

    class TestMyPoolEquivalence(PoolEquivalenceSuite):
        def make_pool(self):
            return MyPool(workers=2)

- :class:`PoolContractSuite` checks transport only and is fast: a batch's future
  resolves to the outcomes ``execute_batch`` produced, in order; every batch comes back
  (within a bounded time: a pool that never completes a future fails, it does not
  hang); GMAT crashes and timeouts come back as outcomes; ``close()`` is idempotent.
- :class:`PoolEquivalenceSuite` runs the 16-run grid, the 32-run Monte Carlo and the
  16-run Latin hypercube on your pool and on ``LocalPool`` and requires
  bit-equal DataFrames and equivalent manifests. A sweep with no ok run fails.

GMAT: by default the suites run on the stand-in GMAT install, created once per
session, whose knobs crash a run with ``Sat.SMA == CRASH_SMA`` and hang one with
``Sat.SMA == HANG_SMA``. When ``GMAT_ROOT`` is set, they run on that GMAT instead
and skip the tests that need the knobs. Worker processes must see the same
``GMAT_ROOT``: the suites set it in ``os.environ`` before ``make_pool`` is called,
so pools that start their workers then inherit it; for workers started elsewhere,
point their ``GMAT_ROOT`` at :func:`kit_gmat_root`.

Each test's docstring says what its failure usually means.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import RunOutcome, RunSpec, Status, applied_digest

__all__ = [
    "CRASH_SMA",
    "HANG_SMA",
    "KIT_WAIT_S",
    "PoolContractSuite",
    "PoolEquivalenceSuite",
    "kit_gmat_root",
    "reference_design",
]

CRASH_SMA = 6666.0
HANG_SMA = 7777.0
_TIMEOUT_S = 4.0
#: How long the contract suite waits for a pool's batches before failing the test
#: (a suite's ``wait_s`` class attribute overrides it).
KIT_WAIT_S = 300.0
_REAL_GMAT_ENV = "GMAT_ROOT"
# The GMAT the user pointed at when the kit was imported (before any test ran).
_USER_GMAT_ROOT = os.environ.get(_REAL_GMAT_ENV) or None
_KIT_ROOT: Path | None = None


def kit_gmat_root() -> Path:
    """The GMAT install the kit runs on: ``GMAT_ROOT`` if set, else the stand-in.

    The stand-in is created once per process in a temporary directory, with its
    crash and hang knobs armed for ``CRASH_SMA`` and ``HANG_SMA``.
    """
    global _KIT_ROOT
    if _USER_GMAT_ROOT:
        return Path(_USER_GMAT_ROOT)
    if _KIT_ROOT is None:
        from gmat_sweep.testing.fake_gmat import FakeGmatRule, make_fake_gmat_install

        base = Path(tempfile.mkdtemp(prefix="gmat-sweep-kit-"))
        atexit.register(shutil.rmtree, base, True)
        _KIT_ROOT = make_fake_gmat_install(
            base / "GMAT",
            rules=(
                FakeGmatRule(when={"Sat.SMA": CRASH_SMA}, action="crash"),
                FakeGmatRule(when={"Sat.SMA": HANG_SMA}, action="hang"),
            ),
        )
    return _KIT_ROOT


def _same_start(stat: tuple[int, str] | None, start: str) -> bool:
    """Whether a process stat (``process_stat``) is of the process that started at ``start``."""
    return stat is not None and stat[1] == start


def _on_real_gmat() -> bool:
    return _USER_GMAT_ROOT is not None


class _KitBase:
    """Shared fixtures: GMAT_ROOT for the kit and a pool from ``make_pool``."""

    def make_pool(self) -> Pool:
        """Return a new instance of the pool under test (the suites close it)."""
        raise NotImplementedError("implement make_pool() in your test class")

    @pytest.fixture(autouse=True)
    def _kit_gmat(self) -> Iterator[Path]:
        root = kit_gmat_root()
        previous = os.environ.get(_REAL_GMAT_ENV)
        os.environ[_REAL_GMAT_ENV] = str(root)
        try:
            yield root
        finally:
            if previous is None:
                os.environ.pop(_REAL_GMAT_ENV, None)
            else:
                os.environ[_REAL_GMAT_ENV] = previous


class PoolContractSuite(_KitBase):
    """Transport contract of a Pool (fast). Subclass and implement ``make_pool``.

    Set ``isolates_runs = False`` only for a pool that runs GMAT inside the
    calling process by design (like ``DebugPool``): the class then has no crash
    and timeout tests, since a crash would end the test process.
    """

    isolates_runs = True
    #: Seconds to wait for submitted batches before failing (a pool that never completes).
    wait_s = KIT_WAIT_S

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.isolates_runs:
            # Not collected at all (rather than skipped): these do not apply.
            cls.test_a_gmat_crash_comes_back_as_a_crashed_outcome = None  # type: ignore[assignment]
            cls.test_the_per_run_timeout_is_enforced = None  # type: ignore[assignment]

    @pytest.fixture
    def pool(self, _kit_gmat: Path) -> Iterator[Pool]:
        pool = self.make_pool()
        try:
            yield pool
        finally:
            pool.close()

    @pytest.fixture
    def out_dir(self, tmp_path: Path) -> Path:
        return tmp_path

    def _spec(self, out: Path, run_id: int, sma: float, timeout: float | None = None) -> RunSpec:
        from gmat_sweep.preflight import canonical_sha256
        from gmat_sweep.testing import kit_script

        script = kit_script()
        text = script.read_text()
        return RunSpec(
            run_id=run_id,
            overrides={"Sat.SMA": sma},
            script=str(script),
            out_dir=str(out),
            timeout=timeout,
            script_sha256=canonical_sha256(text),
            script_text=text,
        )

    def _collect(self, pool: Pool, batches: list[list[RunSpec]]) -> dict[int, RunOutcome]:
        """Submit every batch, wait (bounded) for all, check each came back whole and in order."""
        import concurrent.futures

        futures = [pool.submit(batch) for batch in batches]
        _done, pending = concurrent.futures.wait(futures, timeout=self.wait_s)
        if pending:
            missing = [
                [s.run_id for s in batch]
                for batch, f in zip(batches, futures, strict=True)
                if f in pending
            ]
            pytest.fail(
                f"{len(pending)} of {len(futures)} submitted batches never completed within "
                f"{self.wait_s:.0f} s (runs {missing}); a pool's future must finish with the "
                "batch's outcomes or raise when the batch is lost"
            )
        seen: dict[int, RunOutcome] = {}
        for batch, future in zip(batches, futures, strict=True):
            outcomes = future.result()
            assert isinstance(outcomes, list) and len(outcomes) == len(batch), (
                f"the future of a batch of {len(batch)} runs resolved to {outcomes!r}, not a "
                "list of one RunOutcome per run"
            )
            for spec, outcome in zip(batch, outcomes, strict=True):
                assert isinstance(outcome, RunOutcome), f"{outcome!r} is not a RunOutcome"
                assert (outcome.run_id, outcome.attempt) == (spec.run_id, spec.attempt), (
                    f"run {spec.run_id} attempt {spec.attempt} came back as run "
                    f"{outcome.run_id} attempt {outcome.attempt}: outcomes out of order or "
                    "mixed up between batches"
                )
                assert outcome.run_id not in seen, f"run {outcome.run_id} came back twice"
                assert outcome.applied == applied_digest(spec), (
                    f"run {spec.run_id} ran with other overrides, retention or script than "
                    f"were submitted ({dict(spec.overrides)}): the pool altered the spec in "
                    "transit, or built the outcome itself instead of returning "
                    "execute_batch's (applied digest differs)"
                )
                seen[outcome.run_id] = outcome
        return seen

    def _skip_unless_isolated(self, knob: str) -> None:
        if _on_real_gmat():
            pytest.skip(f"needs the stand-in GMAT's {knob} knob; real GMAT cannot be told to")

    def test_capacity_is_a_positive_int(self, pool: Pool) -> None:
        """``capacity`` must be an int >= 1 (runs the pool can execute at once now).

        Fails if it is 0 or not an int: the orchestrator would submit nothing.
        """
        capacity = pool.capacity
        assert isinstance(capacity, int) and not isinstance(capacity, bool)
        assert capacity >= 1

    def test_name_and_description(self, pool: Pool) -> None:
        """The class sets ``name`` (the backend= string) and a one-line ``description``."""
        assert isinstance(type(pool).name, str) and type(pool).name
        assert isinstance(type(pool).description, str) and type(pool).description

    def test_submit_runs_the_spec_and_returns_its_outcome(self, pool: Pool, out_dir: Path) -> None:
        """A batch of one in, the RunOutcome that ``execute_batch`` produced out, with its rows.

        Fails when the pool does not call ``gmat_sweep.worker.execute_batch(specs,
        reuse_gmat_context=...)`` in its worker, when workers lack ``GMAT_ROOT``
        (status failed, GmatNotFoundError), or when the outcome's ``tables`` (the run's
        outputs as Arrow IPC bytes) do not survive the pool's transport.
        """
        from gmat_sweep.outputs import decode_table

        outcome = self._collect(pool, [[self._spec(out_dir, 3, 7000.0)]])[3]
        assert isinstance(outcome, RunOutcome)
        assert outcome.status is Status.OK, outcome.error
        assert outcome.run_id == 3 and outcome.attempt == 1
        assert outcome.tables, "an ok run must bring its outputs back (RunOutcome.tables)"
        report = decode_table(outcome.tables["report__OrbitReport"])
        assert report.num_rows > 0

    def test_every_batch_comes_back_whole_and_in_order(self, pool: Pool, out_dir: Path) -> None:
        """Submit more batches than capacity, of several sizes; every run must come back once.

        Fails when a future never completes (within ``KIT_WAIT_S``), when a batch's
        outcomes are not one per spec in the order given, or when the pool mixes up
        which outcome belongs to which spec.
        """
        n_batches = pool.capacity * 2 + 1
        batches = [
            [self._spec(out_dir, 10 * b + i, 7000.0 + 10 * b + i) for i in range(1 + b % 3)]
            for b in range(n_batches)
        ]
        outcomes = self._collect(pool, batches)
        expected = sorted(s.run_id for batch in batches for s in batch)
        assert sorted(outcomes) == expected
        bad = {r: o.error for r, o in outcomes.items() if o.status is not Status.OK}
        assert not bad, f"runs that did not end ok: {bad}"

    def test_a_gmat_crash_comes_back_as_a_crashed_outcome(self, pool: Pool, out_dir: Path) -> None:
        """A run whose GMAT process dies must resolve to status ``crashed``, not raise.

        A raising future means "the backend lost the batch" and would be retried;
        hiding the crash as ok or failed loses the reason. The next run of the same
        batch must be unaffected. (Skipped on real GMAT: it cannot be told to crash.)
        """
        self._skip_unless_isolated("crash")
        outcomes = self._collect(
            pool, [[self._spec(out_dir, 0, CRASH_SMA), self._spec(out_dir, 1, 7000.0)]]
        )
        assert outcomes[0].status is Status.CRASHED, outcomes[0]
        assert outcomes[1].status is Status.OK, outcomes[1].error

    def test_the_per_run_timeout_is_enforced(self, pool: Pool, out_dir: Path) -> None:
        """A hanging run must end as ``timeout`` after ``spec.timeout`` seconds.

        Fails when the pool drops the spec's timeout or waits on the future with
        its own shorter deadline, or when the hung GMAT process (on this machine) still
        runs after the outcome came back. (Skipped on real GMAT.)
        """
        from gmat_sweep.processes import process_stat
        from gmat_sweep.testing.fake_gmat import hung_processes

        self._skip_unless_isolated("hang")
        before = set(hung_processes(kit_gmat_root()))
        outcome = self._collect(pool, [[self._spec(out_dir, 0, HANG_SMA, timeout=_TIMEOUT_S)]])[0]
        assert outcome.status is Status.TIMEOUT, outcome
        # The hung GMAT process, when it ran on this machine (the stand-in records it in
        # the install; a remote worker's record stays on its node), must be gone.
        hung = set(hung_processes(kit_gmat_root())) - before
        deadline = time.monotonic() + 5.0
        while True:
            alive = {(pid, start) for pid, start in hung if _same_start(process_stat(pid), start)}
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert not alive, (
            f"the GMAT process of the timed-out run still runs 5 s after its outcome: {alive}; "
            "the pool (or its worker) must kill a run's GMAT process at the timeout"
        )

    def test_close_is_idempotent(self) -> None:
        """``close()`` twice, and via the context manager, must not raise.

        ``with pool as p`` must give the pool itself.
        """
        pool = self.make_pool()
        with pool as entered:
            assert entered is pool, "Pool.__enter__ must return the pool itself"
        pool.close()
        pool.close()


class PoolEquivalenceSuite(_KitBase):
    """The backend never changes the answer. Subclass and implement ``make_pool``.

    Runs each reference design on your pool and on ``LocalPool(2)``; the
    reference results are computed once per process. A sweep on your pool that has not
    finished within ``sweep_wait_s`` seconds fails the test (a pool that never
    completes a batch); raise it for pools that start slowly.
    """

    #: Seconds a reference sweep on the pool may take before the test fails.
    sweep_wait_s = 900.0

    def _sweep_both(self, kind: str, tmp_path: Path) -> None:
        from gmat_sweep.orchestrator import Sweep
        from gmat_sweep.testing import kit_script
        from gmat_sweep.testing.compare import assert_sweeps_equal

        reference = _reference_sweep(kind)
        out = tmp_path / kind
        frames: list[Any] = []
        errors: list[BaseException] = []
        pool = self.make_pool()

        def run() -> None:
            try:
                frames.append(
                    Sweep(
                        kit_script(), reference_design(kind), out=out, backend=pool,
                        progress=False, **reference_retention(kind),
                    ).run()
                )  # fmt: skip
            except BaseException as exc:  # re-raised in the test's own thread
                errors.append(exc)

        # The sweep runs in a thread, so that a pool whose batches never come back fails
        # the test in bounded time instead of hanging it; the pool is made and closed here.
        sweeper = threading.Thread(target=run, name=f"kit-{kind}", daemon=True)
        sweeper.start()
        sweeper.join(self.sweep_wait_s)
        if sweeper.is_alive():
            pytest.fail(
                f"the {kind} sweep on this pool did not finish within {self.sweep_wait_s:.0f} s "
                f"(see gmat-sweep show {out}): a batch whose future never completes? Raise "
                "sweep_wait_s on the suite if the pool is only slow to start."
            )
        pool.close()
        if errors:
            raise errors[0]
        df = frames[0]
        assert (df["__status"] == "ok").any(), (
            f"no run of the {kind} sweep ended ok on this pool; see gmat-sweep show {out} --failed"
        )
        assert_sweeps_equal(out, reference)

    def test_grid_16_runs_is_bit_equal_to_local(self, tmp_path: Path) -> None:
        """16-run full factorial over Sat.SMA x Sat.INC, compared with LocalPool.

        A DataFrame difference means outputs were mixed up between runs, a run was
        dropped or run with other values; a manifest difference names the field.
        """
        self._sweep_both("grid", tmp_path)

    def test_monte_carlo_32_runs_is_bit_equal_to_local(self, tmp_path: Path) -> None:
        """32 Monte Carlo draws (seeded); same checks as the grid.

        Differences here but not in the grid usually mean the pool altered the
        override values in transit (e.g. through a lossy serialiser).
        """
        self._sweep_both("monte_carlo", tmp_path)

    def test_latin_hypercube_16_runs_is_bit_equal_to_local(self, tmp_path: Path) -> None:
        """16-point Latin hypercube (seeded); same checks as the grid."""
        self._sweep_both("latin_hypercube", tmp_path)

    def test_kept_channels_and_rows_are_bit_equal_to_local(self, tmp_path: Path) -> None:
        """8 runs keeping two channels and every 4th row (``keep=``, ``rows=``).

        Retention runs where the run runs; a difference means the pool's workers
        dropped the spec's retention or run another gmat-sweep-core than the driver.
        """
        self._sweep_both("retention_rows", tmp_path)

    def test_a_postprocess_summary_is_bit_equal_to_local(self, tmp_path: Path) -> None:
        """8 runs summarised on the worker by ``postprocess="extremes"``."""
        self._sweep_both("retention_postprocess", tmp_path)


# Reference sweeps on LocalPool(2), run once per process, kind and GMAT install.
_REFERENCES: dict[tuple[str, str], Path] = {}


def _reference_sweep(kind: str) -> Path:
    from gmat_sweep.orchestrator import Sweep
    from gmat_sweep.pools.local import LocalPool
    from gmat_sweep.testing import kit_script

    key = (kind, str(kit_gmat_root()))
    if key not in _REFERENCES:
        out = Path(tempfile.mkdtemp(prefix=f"gmat-sweep-kit-reference-{kind}-"))
        atexit.register(shutil.rmtree, out, True)
        with LocalPool(2) as local:
            Sweep(
                kit_script(),
                reference_design(kind),
                out=out,
                backend=local,
                progress=False,
                overwrite=True,
                **reference_retention(kind),
            ).run()
        _REFERENCES[key] = out
    return _REFERENCES[key]


def reference_design(kind: str) -> Any:
    """The kit's reference designs (DESIGN section 10), by kind."""
    from gmat_sweep.designs import Grid, LatinHypercube, MonteCarlo

    if kind == "grid":
        return Grid(
            {"Sat.SMA": [6900.0, 7000.0, 7100.0, 7200.0], "Sat.INC": [0.0, 28.5, 51.6, 97.8]}
        )
    if kind == "monte_carlo":
        return MonteCarlo(
            32,
            {"Sat.SMA": ("normal", 7000.0, 25.0), "Sat.ECC": ("uniform", 0.0005, 0.02)},
            seed=20260101,
        )
    if kind == "latin_hypercube":
        return LatinHypercube(
            16, {"Sat.SMA": (6900.0, 7300.0), "Sat.INC": (0.0, 98.0)}, seed=20260102
        )
    if kind.startswith("retention_"):
        return Grid({"Sat.SMA": [6900.0, 7000.0, 7100.0, 7200.0], "Sat.INC": [28.5, 97.8]})
    raise ValueError(f"no reference design {kind!r}")


def reference_retention(kind: str) -> dict[str, Any]:
    """What the kit's reference sweep of ``kind`` keeps of each run (Sweep keywords)."""
    if kind == "retention_rows":
        return {"keep": ["Sat.SMA", "Sat.ECC"], "rows": "every:4"}
    if kind == "retention_postprocess":
        return {"postprocess": "extremes"}
    return {}
