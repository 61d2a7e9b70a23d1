"""A real single-node Slurm (Debian slurmctld + slurmd + munge) for the tests.

``gmat_sweep_slurm.testing`` installs it if needed, configures it in a test-owned
directory and starts it idempotently; the session tears it down.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gmat_sweep.testing import wait_until
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


def run_driver_job(
    tmp_path: Path, driver: str, gmat: Path, directives: list[str]
) -> tuple[str, str]:
    """sbatch ``driver`` (Python source) as a one-node job with ``directives``; wait for it
    to end and check it exited 0. Returns the job id and its log.

    The driver's exit status is echoed into the log: Slurm may forget a finished job
    (MinJobAge) before scontrol is asked for its ExitCode.
    """
    from gmat_sweep_slurm.testing import squeue_jobs

    script = tmp_path / "driver.py"
    script.write_text(driver)
    batch = tmp_path / "driver.sh"
    lines = "".join(f"#SBATCH {line}\n" for line in ["--nodes=1", *directives, "--mem=4G"])
    batch.write_text(
        f"#!/bin/bash\n#SBATCH --job-name=gmat-sweep-driver\n{lines}"
        f"#SBATCH --output={tmp_path}/driver-%j.log\n"
        f"export GMAT_ROOT={gmat}\n{sys.executable} {script}\n"
        'echo "gmat-sweep driver exited $?"\n'
    )
    submitted = subprocess.run(
        ["sbatch", "--parsable", str(batch)], capture_output=True, text=True, check=True
    )
    job = submitted.stdout.strip().split(";")[0]
    finished = wait_until(lambda: not any(j[0] == job for j in squeue_jobs()), 300, every=0.2)
    log = next(tmp_path.glob("driver-*.log")).read_text()
    assert finished, f"driver job {job} still running:\n{log[-3000:]}"
    assert "gmat-sweep driver exited 0\n" in log, log[-3000:]
    return job, log
