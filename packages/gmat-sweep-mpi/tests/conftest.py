"""Real Open MPI for the tests: installed when missing, run as root over loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gmat_sweep.testing import kit_gmat_root
from gmat_sweep_mpi.testing import ensure_open_mpi, loopback_env


@pytest.fixture(scope="session")
def mpi_env() -> dict[str, str]:
    """The environment MPI drivers run in here: loopback Open MPI and the kit's GMAT."""
    ensure_open_mpi()
    return loopback_env({**os.environ, "GMAT_ROOT": str(kit_gmat_root())})


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"
