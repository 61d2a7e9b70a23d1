"""The backend test kit on DaskPool: a LocalCluster, and a CLI cluster by address."""

from __future__ import annotations

import pytest

from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite
from gmat_sweep_dask import DaskPool


class TestLocalClusterContract(PoolContractSuite):
    def make_pool(self) -> DaskPool:
        return DaskPool(n_workers=2)


class TestLocalClusterEquivalence(PoolEquivalenceSuite):
    def make_pool(self) -> DaskPool:
        return DaskPool(n_workers=2)


class TestAddressContract(PoolContractSuite):
    @pytest.fixture(autouse=True)
    def _cluster(self, dask_cli_cluster: object) -> None:
        self.address = dask_cli_cluster.address  # type: ignore[attr-defined]

    def make_pool(self) -> DaskPool:
        return DaskPool(address=self.address)


class TestAddressEquivalence(PoolEquivalenceSuite):
    @pytest.fixture(autouse=True)
    def _cluster(self, dask_cli_cluster: object) -> None:
        self.address = dask_cli_cluster.address  # type: ignore[attr-defined]

    def make_pool(self) -> DaskPool:
        return DaskPool(address=self.address)
