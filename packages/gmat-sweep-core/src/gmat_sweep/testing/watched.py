"""Run a command in a test, and when it hangs, say where.

:func:`run_watched` runs a command in a session of its own with Python's faulthandler
on. One still running after ``timeout`` s has its session's processes listed, then each
is sent SIGABRT (faulthandler prints every Python thread's stack; a C program dumps
core or dies) and, 15 s later, SIGKILL; the result says so (``hung``) and carries the
listing, so a test's failure report shows where it hung instead of only "Timeout".
Processes the command started in sessions of their own are not reached.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Watched", "run_watched"]

#: How long the hung processes get to print their stacks after SIGABRT.
_ABORT_GRACE_S = 15.0


@dataclass(frozen=True)
class Watched:
    """What a watched command did.

    ``returncode`` is the command's exit status (negative: killed by that signal), or
    None when it hung; ``hung`` is then the listing of its processes at the time.
    """

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    hung: str | None

    def report(self, tail: int = 6000) -> str:
        """The command, how it ended and the end of its output, for a failure message."""
        ended = (
            f"did not finish; its processes then:\n{self.hung}"
            if self.returncode is None
            else f"exited {self.returncode}"
        )
        return (
            f"{' '.join(self.argv)}\n{ended}\n--- stdout\n{self.stdout[-tail:]}\n"
            f"--- stderr\n{self.stderr[-tail:]}"
        )


def run_watched(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Watched:
    """Run ``argv`` to its end or for ``timeout`` s, whichever comes first.

    Output goes to temporary files, not pipes, so a grandchild that keeps the command's
    stdout open cannot stall the wait. Never raises for the command's own failure or
    hang; raises OSError when ``argv`` cannot be started.
    """
    env = {**(os.environ if env is None else env), "PYTHONFAULTHANDLER": "1"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            list(argv), cwd=cwd, stdout=out, stderr=err, text=True, env=env,
            start_new_session=True,
        )  # fmt: skip
        hung: str | None = None
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            hung = subprocess.run(
                ["ps", "-ww", "-s", str(process.pid), "-o", "pid,ppid,etime,stat,args"],
                capture_output=True, text=True,
            ).stdout  # fmt: skip
            _signal_session(process.pid, signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_ABORT_GRACE_S)
            _signal_session(process.pid, signal.SIGKILL)
            process.wait()
        out.seek(0)
        err.seek(0)
        return Watched(tuple(argv), code, out.read(), err.read(), hung)


def _signal_session(session: int, signum: int) -> None:
    """Send ``signum`` to every process of ``session`` (its leader's pid)."""
    from gmat_sweep.processes import session_members

    for pid in session_members(session):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
