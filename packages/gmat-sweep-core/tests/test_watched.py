"""run_watched: a hung command is stopped, with its processes and stacks in the result."""

from __future__ import annotations

import sys
from pathlib import Path

from gmat_sweep.testing import run_watched, wait_until

HANG = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(str(child.pid))
def waiting_forever():
    time.sleep(600)
print("started", flush=True)
waiting_forever()
"""


def test_a_command_that_ends_gives_its_code_and_output() -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    done = run_watched([sys.executable, "-c", code], timeout=60)
    assert (done.returncode, done.stdout, done.stderr, done.hung) == (3, "out\n", "err\n", None)
    assert "exited 3" in done.report()


def test_a_hung_command_and_its_child_are_stopped_and_say_where(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    done = run_watched([sys.executable, "-c", HANG, str(pid_file)], timeout=3)
    assert done.returncode is None
    assert done.hung is not None and "time.sleep(600)" in done.hung  # the child, listed
    assert "started" in done.stdout
    assert "waiting_forever" in done.stderr  # faulthandler's stack of the hung Python
    child = int(pid_file.read_text())
    assert wait_until(lambda: not Path(f"/proc/{child}").exists(), 10)  # killed too
    assert "did not finish" in done.report()
