"""The backend test kit on the built-in pools, and proof that it has teeth."""

from __future__ import annotations

import textwrap

import pytest

from gmat_sweep.pools.base import Pool
from gmat_sweep.pools.local import DebugPool, LocalPool
from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite

pytest_plugins = ["pytester"]


class TestLocalContract(PoolContractSuite):
    def make_pool(self) -> Pool:
        return LocalPool(2)


class TestLocalFreshHostsContract(PoolContractSuite):
    def make_pool(self) -> Pool:
        return LocalPool(2, reuse_gmat_context=False)


class TestDebugContract(PoolContractSuite):
    isolates_runs = False

    def make_pool(self) -> Pool:
        return DebugPool()


class TestLocalEquivalence(PoolEquivalenceSuite):
    """The reference is a LocalPool too, but each sweep here gets warm donated hosts."""

    def make_pool(self) -> Pool:
        return LocalPool(1)


class TestLocalFreshHostsEquivalence(PoolEquivalenceSuite):
    def make_pool(self) -> Pool:
        return LocalPool(2, reuse_gmat_context=False)


BROKEN_POOLS = textwrap.dedent(
    '''
    from concurrent.futures import Future
    from dataclasses import replace

    from gmat_sweep.pools.local import LocalPool
    from gmat_sweep.spec import RunOutcome, Status
    from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite


    def _relay(future, change):
        out = Future()
        future.add_done_callback(lambda f: out.set_result([change(o) for o in f.result()]))
        return out


    class DropsARun(LocalPool):
        """Claims run 5 went fine without running it."""
        def submit(self, specs):
            if all(s.run_id != 5 for s in specs):
                return super().submit(specs)
            fake = RunOutcome(run_id=5, attempt=1, status=Status.OK)
            return _relay(super().submit(specs), lambda o: fake if o.run_id == 5 else o)


    class MixesUpOutputs(LocalPool):
        """Hands run 0 the outputs of another run (the mission at another SMA)."""
        def submit(self, specs):
            from gmat_sweep.worker import execute_run

            def mix(o):
                if o.run_id != 0:
                    return o
                spec = next(s for s in specs if s.run_id == 0)
                sma = spec.overrides["Sat.SMA"] + 100.0
                other = execute_run(replace(spec, overrides={**spec.overrides, "Sat.SMA": sma}))
                return replace(o, tables=other.tables)
            return _relay(super().submit(specs), mix)


    class WrongValue(LocalPool):
        """Ships run 2 with a slightly different override than the driver asked for."""
        def submit(self, specs):
            def bump(spec):
                if spec.run_id != 2:
                    return spec
                bumped = {
                    k: v + 1e-6 if isinstance(v, float) else v for k, v in spec.overrides.items()
                }
                return replace(spec, overrides=bumped)
            return super().submit([bump(s) for s in specs])


    class HidesCrash(LocalPool):
        """Reports a crashed run as failed."""
        def submit(self, specs):
            def hide(o):
                return replace(o, status=Status.FAILED) if o.status is Status.CRASHED else o
            return _relay(super().submit(specs), hide)


    class NeverCompletes(LocalPool):
        """Runs the batch but never resolves its future."""
        def submit(self, specs):
            super().submit(specs)
            return Future()


    class IgnoresRetention(LocalPool):
        """Ships the specs without the sweep's retention (workers keep everything)."""
        def submit(self, specs):
            return super().submit([replace(s, retention={}) for s in specs])


    class AddsAnOverride(LocalPool):
        """Sets a field the driver did not ask for, to the script's own value: the outputs
        do not change, so only the applied digest shows it."""
        def submit(self, specs):
            extra = [replace(s, overrides={**s.overrides, "Sat.DryMass": 100.0}) for s in specs]
            return super().submit(extra)


    class ReversesABatch(LocalPool):
        """Returns a batch's outcomes in reverse order."""
        def submit(self, specs):
            out = Future()
            inner = super().submit(specs)
            inner.add_done_callback(lambda f: out.set_result(list(reversed(f.result()))))
            return out

    class ZeroCapacity(LocalPool):
        @property
        def capacity(self):
            return 0


    class TrueCapacity(LocalPool):
        """A bool where an int is due (True == 1, but not a count of slots)."""
        @property
        def capacity(self):
            return True


    class HidesTimeout(LocalPool):
        """Reports a timed-out run as failed."""
        def submit(self, specs):
            def hide(o):
                return replace(o, status=Status.FAILED) if o.status is Status.TIMEOUT else o
            return _relay(super().submit(specs), hide)


    class DropsTheTimeout(LocalPool):
        """Ships the specs without their per-run timeout: a hanging run never ends."""
        def submit(self, specs):
            return super().submit([replace(s, timeout=None) for s in specs])


    class LeavesGmatRunning(LocalPool):
        """Answers a hanging run with a timeout outcome, and leaves its GMAT running (until
        close, so that nothing outlives the test)."""
        def submit(self, specs):
            import subprocess, sys, tempfile, time
            from gmat_sweep.spec import applied_digest
            from gmat_sweep.testing import hung_processes, kit_gmat_root

            [spec] = specs
            before = len(hung_processes(kit_gmat_root()))
            code = (
                "import gmat_run; m = gmat_run.Mission.load(%r); m['Sat.SMA'] = %r; "
                "m.run(working_dir=%r)"
            ) % (spec.script, spec.overrides["Sat.SMA"], tempfile.mkdtemp())
            self.__dict__["left"] = subprocess.Popen([sys.executable, "-c", code])
            while len(hung_processes(kit_gmat_root())) == before:
                time.sleep(0.05)
            out = Future()
            out.set_result([RunOutcome(run_id=spec.run_id, attempt=spec.attempt,
                                       status=Status.TIMEOUT, applied=applied_digest(spec))])
            return out

        def close(self):
            left = self.__dict__.get("left")
            if left is not None:
                left.kill()
                left.wait()
            super().close()


    class RepeatsAnOutcome(LocalPool):
        """Resolves a batch's future with its last outcome given twice."""
        def submit(self, specs):
            out = Future()
            inner = super().submit(specs)
            inner.add_done_callback(lambda f: out.set_result(f.result() + f.result()[-1:]))
            return out


    class ReturnsTheFirstBatchAgain(LocalPool):
        """Hands a batch the future of the first batch of its size it was given (the
        outcomes of other runs, the right number of them)."""
        def submit(self, specs):
            first = self.__dict__.setdefault("first", {})
            if len(specs) not in first:
                first[len(specs)] = super().submit(specs)
            return first[len(specs)]
    '''
)


@pytest.mark.parametrize(
    ("pool", "suite", "test", "why"),
    [
        # The driver itself refuses outcomes without the applied digest of their spec: it
        # records those runs lost and retries them, so their attempts differ from local.
        ("DropsARun", "PoolEquivalenceSuite", "grid", "*'attempt' differs*"),
        ("MixesUpOutputs", "PoolEquivalenceSuite", "grid", "*DataFrame*different*"),
        ("WrongValue", "PoolEquivalenceSuite", "grid", "*run 2*'attempt' differs*"),
        ("IgnoresRetention", "PoolEquivalenceSuite", "channels_and_rows", "*differ*"),
        ("HidesCrash", "PoolContractSuite", "crash", "*CRASHED*"),
        ("NeverCompletes", "PoolContractSuite", "whole_and_in_order", "*never completed*"),
        ("NeverCompletes", "PoolEquivalenceSuite", "grid", "*did not finish within 20 s*"),
        ("ReversesABatch", "PoolContractSuite", "whole_and_in_order", "*out of order*"),
        ("AddsAnOverride", "PoolContractSuite", "whole_and_in_order", "*altered the spec*"),
        ("AddsAnOverride", "PoolEquivalenceSuite", "grid", "*no run of the grid sweep ended ok*"),
        # A bare assert of the kit reports its values: the kit's pytest plugin registers
        # gmat_sweep.testing for assert rewriting (else only "AssertionError" is shown).
        ("ZeroCapacity", "PoolContractSuite", "positive_int", "*assert 0 >= 1*"),
        ("TrueCapacity", "PoolContractSuite", "positive_int", "*isinstance(True, bool)*"),
        ("HidesTimeout", "PoolContractSuite", "timeout", "*Status.FAILED*is*Status.TIMEOUT*"),
        (
            "DropsTheTimeout",
            "PoolContractSuite",
            "timeout",
            "*1 of 1 submitted batches never completed within 10 s (runs ??0??)*",
        ),
        (
            "LeavesGmatRunning",
            "PoolContractSuite",
            "timeout",
            "*the GMAT process of the timed-out run still runs 5 s after its outcome*",
        ),
        (
            "RepeatsAnOutcome",
            "PoolContractSuite",
            "whole_and_in_order",
            "*the future of a batch of 1 runs resolved to*not a list of one RunOutcome per run*",
        ),
        (
            "ReturnsTheFirstBatchAgain",
            "PoolContractSuite",
            "whole_and_in_order",
            "*run 30 attempt 1 came back as run 0 attempt 1: outcomes out of order or mixed up*",
        ),
    ],
)
def test_the_kit_fails_a_broken_pool(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    pool: str,
    suite: str,
    test: str,
    why: str,
) -> None:
    # The kit's own teeth, tested on its stand-in GMAT whatever GMAT_ROOT says: real GMAT
    # cannot be told to crash, and the other broken pools do not depend on the engine.
    monkeypatch.delenv("GMAT_ROOT", raising=False)
    pytester.makepyfile(
        broken_pools=BROKEN_POOLS,
        test_broken=f"""
            from broken_pools import {pool}
            from gmat_sweep.testing import {suite}

            class TestBroken({suite}):
                wait_s = 10.0
                sweep_wait_s = 20.0

                def make_pool(self):
                    return {pool}(2)
            """,
    )
    result = pytester.runpytest_subprocess("-k", test, "-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([why])
