"""The watchdog removes what a killed driver leaves on disk, and nothing after a normal exit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_DRIVER = """
import os, subprocess, sys, time
from pathlib import Path
from gmat_sweep import reaper
from gmat_sweep.worker import process_scratch

private = reaper.make_private_directory("gmat-sweep-test-")
(private / "cert.pem").write_text("secret")
loose = Path(sys.argv[1]) / "loose.log"
loose.write_text("log")
reaper.remove_if_driver_dies(loose)
# A child that made its own scratch folder, as a worker process does.
child = subprocess.Popen([sys.executable, "-c",
    "from gmat_sweep.worker import process_scratch; import time, sys\\n"
    "print(process_scratch(), flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
scratch = child.stdout.readline().strip()
print(private, scratch, flush=True)
if sys.argv[2] == "exit":
    child.kill()
    child.wait()
    raise SystemExit(0)
time.sleep(600)
"""


def _start(tmp_path: Path, how: str) -> tuple[subprocess.Popen[str], Path, Path]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    env.pop("GMAT_SWEEP_SCRATCH", None)  # scratch in the temporary directory, as by default
    (tmp_path / "tmp").mkdir()
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(tmp_path), how], env=env, stdout=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    assert driver.stdout is not None
    private, scratch = driver.stdout.readline().split()
    return driver, Path(private), Path(scratch)


def _gone(paths: list[Path], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(p.exists() for p in paths):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog reads /proc")
def test_a_sigkilled_driver_leaves_no_registered_path_and_no_worker_scratch(
    tmp_path: Path,
) -> None:
    driver, private, scratch = _start(tmp_path, "kill")
    try:
        assert private.is_dir() and (private / "cert.pem").is_file() and scratch.is_dir()
        assert (private.stat().st_mode & 0o777) == 0o700
        assert private.parent == tmp_path / "tmp" and scratch.parent == tmp_path / "tmp"
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        leftovers = [private, scratch, tmp_path / "loose.log"]
        assert _gone(leftovers), [p for p in leftovers if p.exists()]
        assert os.listdir(tmp_path / "tmp") == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog reads /proc")
def test_after_a_normal_exit_the_watchdog_removes_nothing(tmp_path: Path) -> None:
    # Removing on a normal exit is the driver's own job (it may keep what it registered).
    driver, private, _scratch = _start(tmp_path, "exit")
    assert driver.wait(timeout=60) == 0
    time.sleep(3)  # longer than the watchdog's grace period: it had every chance to act
    assert private.is_dir() and (tmp_path / "loose.log").is_file()
