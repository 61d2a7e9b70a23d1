"""Settings for every test of the monorepo (packages/*/tests and integration/).

Everything temporary that a test session's processes make goes into one folder per
session, removed when the session ends: ``TMPDIR`` points there (so pytest's own
``tmp_path`` folders, multiprocessing's ``pymp-*``, Dask's ``dask-scratch-space`` and
anything else that asks :mod:`tempfile` land in it, also in subprocesses), and so does the
runs' scratch (``GMAT_SWEEP_SCRATCH``: each attempt's GMAT working directory, scripts
written for workers). Processes the tests kill on purpose (drivers, Dask and Ray workers)
cannot clean up after themselves, and nothing a test starts may outlive it.

Nested sessions (``pytester``'s subprocess runs) inherit the outer session's folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SESSION = "GMAT_SWEEP_TEST_SESSION_TMP"
_SCRATCH = "GMAT_SWEEP_SCRATCH"


def pytest_configure(config: pytest.Config) -> None:
    if _SESSION in os.environ:
        return
    # Short and under /tmp: unix socket paths made inside it must fit in 107 bytes.
    folder = tempfile.mkdtemp(prefix="gmat-sweep-tests-", dir="/tmp")
    scratch = os.path.join(folder, "scratch")
    os.mkdir(scratch)
    saved = {key: os.environ.get(key) for key in (_SESSION, "TMPDIR", _SCRATCH)}
    os.environ.update({_SESSION: folder, "TMPDIR": folder})
    os.environ.setdefault(_SCRATCH, scratch)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    config.stash[_session_key] = (folder, saved)


def pytest_unconfigure(config: pytest.Config) -> None:
    stashed = config.stash.get(_session_key, None)
    if stashed is None:
        return
    folder, saved = stashed
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    tempfile.tempdir = None
    shutil.rmtree(folder, ignore_errors=True)


_session_key = pytest.StashKey[tuple[str, dict[str, str | None]]]()
