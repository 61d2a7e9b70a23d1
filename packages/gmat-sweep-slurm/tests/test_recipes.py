"""The Slurm recipes as a site would run them: what a worker job's prologue does."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType

import pytest

from gmat_sweep_slurm import SlurmPool

from .conftest import jobs_options

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "slurm"


def _jobs_driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jobs_driver", RECIPES / "jobs_driver.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_prologue_leaves_gmat_root_to_the_site() -> None:
    # Nothing exports a GMAT_ROOT over what a module or the driver's environment sets.
    assert _jobs_driver().worker_prologue() == []
    lines = _jobs_driver().worker_prologue(["gmat/R2026a"], "/opt/gmat R2026a")
    assert lines[-1] == "export GMAT_ROOT='/opt/gmat R2026a'"
    with pytest.raises(SystemExit, match="expected a module name"):
        _jobs_driver().worker_prologue(["gmat; rm -rf ~"])


def test_a_module_that_does_not_load_ends_the_worker_job_with_a_message(
    slurm: Path, tmp_path: Path
) -> None:
    options = {**jobs_options(), "log_directory": str(tmp_path / "worker-logs")}
    prologue = _jobs_driver().worker_prologue(["no-such-gmat/0.0"])
    with SlurmPool(prologue=prologue, **options) as pool:  # type: ignore[arg-type]
        deadline = time.monotonic() + 120
        said: list[str] = []
        while time.monotonic() < deadline and not said:
            said = [
                path.read_text()
                for path in (tmp_path / "worker-logs").glob("*")
                if path.is_file() and "module load no-such-gmat/0.0 failed on" in path.read_text()
            ]
            time.sleep(0.5)
        # The job stopped before its worker: nothing ran without GMAT.
        assert said, os.listdir(tmp_path / "worker-logs")
        assert not pool.client.nthreads()
