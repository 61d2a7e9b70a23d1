"""The backend test kit on RayPool over a local Ray runtime (initialised once here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite
from gmat_sweep_ray import RayPool
from gmat_sweep_ray.testing import local_runtime_kwargs


@pytest.fixture(scope="module", autouse=True)
def local_ray(ray_env: dict[str, str]) -> Iterator[None]:
    import ray

    ray.init(
        address="local", include_dashboard=False, _node_ip_address="127.0.0.2",
        **local_runtime_kwargs(),
    )  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


class TestLocalRuntimeContract(PoolContractSuite):
    def make_pool(self) -> RayPool:
        return RayPool()


class TestLocalRuntimeEquivalence(PoolEquivalenceSuite):
    def make_pool(self) -> RayPool:
        return RayPool()
