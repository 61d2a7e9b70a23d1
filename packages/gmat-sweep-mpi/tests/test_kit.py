"""The backend test kit on MPIPool: launched by ``mpirun -n 3``, and spawning two workers.

Each mode runs kit_cases.py in its own pytest process (see its docstring for why) and
checks from its JUnit report that every test of both suites ran and passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gmat_sweep.testing import PoolContractSuite, PoolEquivalenceSuite
from gmat_sweep_mpi.testing import mpirun_command

CASES = Path(__file__).with_name("kit_cases.py")
#: Real GMAT when the test run was given one (read before any test changes os.environ);
#: else the kit process makes its own stand-in, with the crash and hang knobs armed.
REAL_GMAT_ROOT = os.environ.get("GMAT_ROOT") or None
#: The contract tests that need those knobs; the kit skips them on real GMAT.
KNOB_TESTS = 2


def _expected_tests() -> int:
    def count(suite: type) -> int:
        return sum(1 for name in dir(suite) if name.startswith("test_"))

    return count(PoolContractSuite) + count(PoolEquivalenceSuite)


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("mode", ["launched", "spawned"])
def test_the_kit_passes_on_real_open_mpi(
    mode: str, mpi_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "kit.xml"
    pytest_args = ["-m", "pytest", str(CASES), "-p", "no:cacheprovider", "-q",
                   f"--junitxml={report}", f"--basetemp={tmp_path / 'kit'}"]  # fmt: skip
    launched = mode == "launched"
    cmd = mpirun_command(3, *pytest_args) if launched else [sys.executable, *pytest_args]
    env = {**mpi_env, "GMAT_SWEEP_MPI_KIT_MODE": mode}
    env.pop("GMAT_ROOT")
    if REAL_GMAT_ROOT:
        env["GMAT_ROOT"] = REAL_GMAT_ROOT
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-3000:])
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    skipped = KNOB_TESTS if REAL_GMAT_ROOT else 0
    assert counts == {"tests": _expected_tests(), "failures": 0, "errors": 0, "skipped": skipped}
