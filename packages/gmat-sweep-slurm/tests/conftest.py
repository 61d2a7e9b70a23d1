"""A real single-node Slurm (Debian slurmctld + slurmd + munge) for the tests.

``scripts/single_node_slurm.py`` installs it if needed, configures it in a test-owned
directory and starts it idempotently; the session tears it down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_HELPER = REPO / "scripts" / "single_node_slurm.py"


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """SLURM_CONF of a running single-node cluster (set in os.environ for the session)."""
    workdir = Path("/tmp") / f"gmat-sweep-slurm-{os.getpid()}"
    done = subprocess.run(
        [sys.executable, str(_HELPER), "up", "--dir", str(workdir)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    conf = Path(done.stdout.strip().splitlines()[-1].split("=", 1)[1])
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    time.sleep(3)  # jobs submitted in slurmctld's first seconds wait for its scheduler
    try:
        yield conf
    finally:
        subprocess.run([sys.executable, str(_HELPER), "down", "--dir", str(workdir)], timeout=120)
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved


def squeue_jobs(name: str | None = None) -> list[tuple[str, str, str]]:
    """(job id, name, state) of the queue, optionally only jobs called ``name``."""
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True, check=True
    ).stdout
    rows = [tuple(line.split()) for line in out.splitlines() if line.strip()]
    return [r for r in rows if name is None or r[1] == name]  # type: ignore[misc]


def jobs_options() -> dict[str, object]:
    """SlurmPool options for jobs mode on this single node, loopback only."""
    return {
        "mode": "jobs",
        "n_workers": 2,
        "partition": "debug",
        "walltime": "00:30:00",
        "memory_per_worker": "1GiB",
        "interface": "lo",
        "log_directory": str(Path(tempfile.gettempdir()) / "gmat-sweep-slurm-worker-logs"),
    }
