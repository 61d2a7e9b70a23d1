"""The backend test kit's suites on MPIPool, run by test_kit.py in a process of its own.

Not collected by the normal test run (the name does not start with ``test_``): a process
that has initialised MPI hands Open MPI's job variables to every child it starts, so MPI
stays out of the main pytest process. test_kit.py runs this file under
``mpirun -n 3 python -m mpi4py.futures -m pytest`` (mode ``launched``: ranks 1 and 2 are
the workers) and under plain ``python -m pytest`` (mode ``spawned``: two spawned workers),
chosen by ``GMAT_SWEEP_MPI_KIT_MODE``.
"""

from __future__ import annotations

import os

from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite, kit_gmat_root
from gmat_sweep_mpi import MPIPool

MODE = os.environ.get("GMAT_SWEEP_MPI_KIT_MODE", "launched")


def _pool() -> MPIPool:
    if MODE == "spawned":  # spawned workers inherit this process's environment
        pool = MPIPool(workers=2)
    else:  # the ranks were started before the kit chose its GMAT: tell them
        pool = MPIPool(env={"GMAT_ROOT": str(kit_gmat_root())})
    assert pool.options()["mode"] == MODE, pool.options()
    assert pool.capacity == 2
    return pool


class TestMPIContract(PoolContractSuite):
    def make_pool(self) -> MPIPool:
        return _pool()


class TestMPIEquivalence(PoolEquivalenceSuite):
    def make_pool(self) -> MPIPool:
        return _pool()
