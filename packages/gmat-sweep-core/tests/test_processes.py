"""What the driver's housekeeping reads from /proc: parents, start times, descendants."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gmat_sweep.processes import descendants, pid_alive, process_stat, session_members

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def test_a_process_named_with_parentheses_and_spaces_is_read_right(tmp_path: Path) -> None:
    # /proc/<pid>/stat is "pid (comm) state ppid ...": a comm holding ") " must not shift
    # the fields after it.
    sleeper = tmp_path / "a) b (c"
    sleeper.symlink_to(shutil.which("sleep") or "/bin/sleep")
    child = subprocess.Popen([str(sleeper), "30"])
    try:
        stat = process_stat(child.pid)
        assert stat is not None
        parent, start = stat
        assert parent == os.getpid()
        assert start.isdigit() and int(start) >= int(_own_start())
        assert (child.pid, start) in descendants(os.getpid())
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_zombie_and_a_reaped_process_count_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while _state(child.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(child.pid) == "Z"  # exited, not yet reaped
    assert process_stat(child.pid) is None
    assert not pid_alive(child.pid)
    assert child.pid in session_members(os.getsid(0))  # zombies are members still
    child.wait()
    assert process_stat(child.pid) is None


def test_descendants_are_the_whole_tree_below_a_process() -> None:
    # A shell that starts a child of its own: both are this process's descendants, and
    # that grandchild, a leaf, has none.
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & echo $!; wait"], stdout=subprocess.PIPE)
    assert shell.stdout is not None
    grandchild = int(shell.stdout.readline())
    try:
        found = {pid for pid, _start in descendants(os.getpid())}
        assert {shell.pid, grandchild} <= found
        assert descendants(grandchild) == set()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)
        shell.kill()
        shell.wait()
        shell.stdout.close()


def _own_start() -> str:
    stat = process_stat(os.getpid())
    assert stat is not None
    return stat[1]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return ""
