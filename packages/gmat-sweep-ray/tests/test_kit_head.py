"""The backend test kit on RayPool joined to a ``ray start --head`` node (address="auto")."""

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


# The Ray Client path (address="ray://...") is not tested: on this machine the head's
# client proxy starts, but the per-client server it spawns exits at once with empty logs
# (Ray 2.60, node IP 127.0.0.2), so no ray:// connection completes.
