"""A real single-node Slurm (Debian slurmctld + slurmd + munge) for the tests.

``gmat_sweep_slurm.testing`` installs it if needed, configures it in a test-owned
directory and starts it idempotently; the session tears it down.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmat_sweep_slurm.testing import PARTITION, running_cluster


@pytest.fixture(scope="session")
def slurm() -> Iterator[Path]:
    """SLURM_CONF of a running single-node cluster (set in os.environ for the session)."""
    with running_cluster(Path("/tmp") / f"gmat-sweep-slurm-{os.getpid()}") as conf:
        yield conf


def jobs_options() -> dict[str, object]:
    """SlurmPool options for jobs mode on this single node, loopback only."""
    return {
        "mode": "jobs",
        "n_workers": 2,
        "partition": PARTITION,
        "walltime": "00:30:00",
        "memory_per_worker": "1GiB",
        "interface": "lo",
        # Inside the test cluster's own directory, removed with it.
        "log_directory": str(Path(os.environ["SLURM_CONF"]).parent / "worker-logs"),
    }
