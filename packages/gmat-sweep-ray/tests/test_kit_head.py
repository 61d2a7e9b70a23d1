"""The backend test kit on RayPool joined to a ``ray start --head`` node: as a driver on
the head (``address="auto"``) and through the Ray Client (``address="ray://..."``), the
route of a driver outside the cluster."""

from __future__ import annotations

import pytest

from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite
from gmat_sweep_ray import RayPool
from gmat_sweep_ray.testing import RayHead


class _OnHead:
    @pytest.fixture(autouse=True)
    def _head(self, ray_head: RayHead) -> None:
        self.head = ray_head


class TestHeadNodeContract(_OnHead, PoolContractSuite):
    def make_pool(self) -> RayPool:
        return RayPool(address="auto")


class TestHeadNodeEquivalence(_OnHead, PoolEquivalenceSuite):
    def make_pool(self) -> RayPool:
        return RayPool(address="auto")


class _ThroughRayClient(_OnHead):
    def make_pool(self) -> RayPool:
        return RayPool(address=self.head.client_address())


class TestRayClientContract(_ThroughRayClient, PoolContractSuite):
    pass


class TestRayClientEquivalence(_ThroughRayClient, PoolEquivalenceSuite):
    pass
