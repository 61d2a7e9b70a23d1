"""Settings for every test of the monorepo (packages/*/tests and integration/).

Everything temporary that a test session's processes make goes into one folder per
session, removed when the session ends: ``TMPDIR`` points there (so pytest's own
``tmp_path`` folders, multiprocessing's ``pymp-*``, Dask's ``dask-scratch-space`` and
anything else that asks :mod:`tempfile` land in it, also in subprocesses), and so does the
runs' scratch (``GMAT_SWEEP_SCRATCH``: each attempt's GMAT working directory, scripts
written for workers). Processes the tests kill on purpose (drivers, Dask and Ray workers)
cannot clean up after themselves, and nothing a test starts may outlive it.

A session that leaves strays in the repository root or a working directory inside it (a
sweep's default ``gmat-sweep-<timestamp>`` out, a ``slurm-<job>.out``, Dask's scratch)
fails, naming them: they belong in ``tmp_path``.

Nested sessions (``pytester``'s subprocess runs) inherit the outer session's folder.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent
# What a test that forgot its own folder leaves in the directory pytest runs in: a sweep's
# default ``gmat-sweep-<timestamp>`` out, a Slurm job's default output, Dask's scratch.
_STRAYS = (
    "gmat-sweep-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9]*",
    "slurm-*.out",
    "dask-scratch-space",
    "dask-worker-space",
)

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
    config.stash[_strays_key] = _strays()


def _strays() -> set[str]:
    """Entries named like a stray in the repository root, and in the working directory
    when it is inside the repository (elsewhere, e.g. /tmp, others may leave them)."""
    found = set()
    cwd = Path.cwd().resolve()
    for where in {_REPO, *([cwd] if cwd.is_relative_to(_REPO) else [])}:
        with contextlib.suppress(OSError):
            for entry in where.iterdir():
                if any(fnmatch.fnmatch(entry.name, pattern) for pattern in _STRAYS):
                    found.add(str(entry))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when tests left strays in the repository or working directory
    (they belong in ``tmp_path``); they are named, and left for whoever reads them."""
    before = session.config.stash.get(_strays_key, None)
    if before is None:
        return
    new = sorted(_strays() - before)
    if new:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            "tests left these behind (a sweep without out=, a Slurm job without --output, "
            "Dask's scratch in the working directory?): " + ", ".join(new)
        )
        if reporter is not None:
            reporter.write_line("")
            reporter.write_line(f"ERROR: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
_strays_key = pytest.StashKey[set[str]]()
