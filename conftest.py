"""Settings for every test of the monorepo (packages/*/tests and integration/).

Runs' scratch (each attempt's GMAT working directory, scripts written for workers) goes
to one folder per test session, removed when the session ends: processes the tests kill
on purpose (drivers, Dask and Ray workers) cannot clean up after themselves, and nothing a
test starts may outlive it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SCRATCH = "GMAT_SWEEP_SCRATCH"


def pytest_configure(config: pytest.Config) -> None:
    if _SCRATCH not in os.environ:
        folder = tempfile.mkdtemp(prefix="gmat-sweep-test-scratch-")
        os.environ[_SCRATCH] = folder
        config.stash[_scratch_key] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_scratch_key, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(_SCRATCH, None)


_scratch_key = pytest.StashKey[str]()
