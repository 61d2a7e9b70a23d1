"""Real Ray for the tests, kept on loopback.

Ray probes cloud metadata and telemetry hosts unless told not to
(``../shared/ENGINES.md``). Every Ray process these tests start gets the settings
that stopped every such attempt: usage stats off and reported to a dead loopback
port, a HOME holding an empty ``ray_bootstrap_config.yaml`` (metadata probes are
skipped only when it exists), node IP 127.0.0.2, dashboards on 127.0.0.1, token
auth mode set explicitly, and a test-owned RAY_TMPDIR.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gmat_sweep.testing import kit_gmat_root
from gmat_sweep_ray.testing import RayHead, applied_env, loopback_env


@pytest.fixture(scope="session")
def ray_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Process environment for every Ray process of the session (restored after)."""
    settings = {
        **loopback_env(tmp_path_factory.mktemp("ray-home")),
        "GMAT_ROOT": str(kit_gmat_root()),
    }
    with applied_env(settings):
        yield settings


@pytest.fixture(scope="session")
def ray_head(
    ray_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RayHead]:
    head = RayHead(ray_env, tmp_path_factory.mktemp("ray-head"))
    try:
        yield head
    finally:
        head.stop()
