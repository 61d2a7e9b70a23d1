"""The backend test kit from gmat-sweep-core, applied to ExamplePool.

Run with ``pytest`` after installing this package. It runs on the stand-in GMAT
that gmat-sweep ships, or on real GMAT when GMAT_ROOT points at one.
"""

from __future__ import annotations

from gmat_sweep_example.pool import ExamplePool

from gmat_sweep.registry import resolve_backend
from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite


class TestExamplePoolContract(PoolContractSuite):
    """Transport: outcomes come back, once each; crashes and timeouts stay outcomes."""

    def make_pool(self) -> ExamplePool:
        return ExamplePool(workers=2)


class TestExamplePoolEquivalence(PoolEquivalenceSuite):
    """Same DataFrames and manifests as the built-in local pool, bit for bit."""

    def make_pool(self) -> ExamplePool:
        return ExamplePool(workers=2)


def test_the_entry_point_makes_the_backend_name_work() -> None:
    """``backend="example"`` finds this pool through the installed entry point."""
    with resolve_backend("example", workers=1) as pool:
        assert isinstance(pool, ExamplePool)
        assert pool.capacity == 1
