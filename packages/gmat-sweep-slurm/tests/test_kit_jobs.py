"""The backend test kit on SlurmPool in jobs mode: workers are real Slurm jobs."""

from __future__ import annotations

import pytest

from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite
from gmat_sweep_slurm import SlurmPool

from .conftest import jobs_options


class _OnSlurm:
    @pytest.fixture(autouse=True)
    def _slurm(self, slurm: object) -> None:
        pass

    def make_pool(self) -> SlurmPool:
        return SlurmPool(**jobs_options())  # type: ignore[arg-type]


class TestJobsContract(_OnSlurm, PoolContractSuite):
    pass


class TestJobsEquivalence(_OnSlurm, PoolEquivalenceSuite):
    pass
