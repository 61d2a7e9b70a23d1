"""Real Dask clusters for the tests: LocalClusters, and CLI clusters on 127.0.0.1.

A CLI cluster is a ``dask scheduler`` and ``dask worker`` processes started exactly as
a user would on a cluster's nodes (``../shared/ENGINES.md``), each in its own session
so that teardown stops the whole process group.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gmat_sweep.testing import kit_gmat_root
from gmat_sweep_dask.testing import DaskCliCluster


@pytest.fixture(scope="session")
def dask_cli_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCliCluster]:
    """Scheduler + two workers on 127.0.0.1, running the kit's GMAT install."""
    with DaskCliCluster.started(tmp_path_factory.mktemp("dask-cli"), kit_gmat_root()) as cluster:
        yield cluster
