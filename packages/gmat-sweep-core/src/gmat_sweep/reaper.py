"""Nothing a driver started outlives it: a watchdog process that reaps after a killed driver.

A driver killed by SIGKILL (the OOM killer, a job step ending, ``kill -9``) runs no
cleanup, and what it started on this machine would keep running: GMAT hosts, a private
Dask LocalCluster's workers, a private Ray runtime's agents (Ray's own agents outlive
their raylet by about a minute). :func:`ensure_started` (called when a sweep opens its
pool and when a gmat-sweep pool is made) starts one small watchdog process per driver
process, for the rest of its life. Every :data:`INTERVAL_S` it notes the driver's
descendants that started after the watchdog; when the driver dies without saying
goodbye, it sends them SIGTERM, then SIGKILL to any still alive after :data:`GRACE_S`.
Processes the driver had before are left alone.

Files too: once those processes are gone, the watchdog removes the scratch folders of the
processes it reaped (``gmat-sweep-scratch-<pid>-*`` in :func:`gmat_sweep.worker.scratch_root`
as the driver's environment sets it), and every path the driver handed it with
:func:`remove_if_driver_dies` (a private cluster's working directory, a log, throwaway
certificates). A driver that exits normally removes its own; the watchdog removes nothing.

Linux only (it reads ``/proc``); elsewhere nothing is started. The protocol: the driver
holds the write end of the watchdog's stdin and writes lines to it: ``remove <path>`` for
each path to remove if it dies and, at a normal interpreter exit, ``stop``, then closes
it. End-of-file without ``stop``, or the driver's pid gone (or a zombie), means the
driver died.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gmat_sweep.processes import Identity, descendants, process_stat

__all__ = [
    "GRACE_S",
    "INTERVAL_S",
    "ensure_started",
    "make_private_directory",
    "remove_if_driver_dies",
]

INTERVAL_S = 0.5
GRACE_S = 2.0


def _signal_all(processes: set[Identity], signum: int) -> set[Identity]:
    """Send ``signum`` to each process still alive as the same process; return those."""
    alive = set()
    for pid, start in processes:
        stat = process_stat(pid)
        if stat is not None and stat[1] == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
                alive.add((pid, start))
    return alive


def watch(driver: int) -> None:
    """The watchdog's loop (run as ``python -m gmat_sweep.reaper <driver pid>``)."""
    me = os.getpid()
    driver_stat = process_stat(driver)
    if driver_stat is None:
        return
    before = descendants(driver)
    # Tell the driver its later children are watched (it waits for this line).
    with contextlib.suppress(OSError):
        os.write(sys.stdout.fileno(), b"watching\n")
        os.close(sys.stdout.fileno())
    started: set[Identity] = set()
    said = b""
    while True:
        ready, _, _ = select.select([sys.stdin.buffer], [], [], INTERVAL_S)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 64)
            said += chunk
            if not chunk:
                break  # end of file: the driver closed the pipe, or died
        elif (now := process_stat(driver)) is None or now[1] != driver_stat[1]:
            # Gone, a zombie, or its pid reused (a child inherited the pipe). Only the start
            # time counts: the driver's parent pid changes when its own parent exits.
            break
        started |= {p for p in descendants(driver) - before if p[0] != me}
    lines = said.decode("utf-8", "surrogateescape").split("\n")
    if "stop" in lines:
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a group kill must not stop the reaping
    alive = _signal_all(started, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {p for p in alive if (s := process_stat(p[0])) is not None and s[1] == p[1]}
    _signal_all(alive, signal.SIGKILL)
    paths = [line[7:] for line in lines if line.startswith("remove ")]
    _remove_leftovers(started | {(driver, driver_stat[1])}, paths)


def _remove_leftovers(reaped: set[Identity], paths: list[str]) -> None:
    """Remove the scratch folders of the reaped processes and of the driver (its threads
    run attempts too), and the paths the driver registered."""
    from gmat_sweep.worker import PROCESS_SCRATCH_PREFIX, scratch_root

    deadline = time.monotonic() + GRACE_S  # SIGKILLed processes need a moment to go
    while time.monotonic() < deadline and any(process_stat(p[0]) for p in reaped):
        time.sleep(0.1)
    root = scratch_root()
    for pid, _start in reaped:
        with contextlib.suppress(OSError):
            for folder in root.glob(f"{PROCESS_SCRATCH_PREFIX}{pid}-*"):
                shutil.rmtree(folder, ignore_errors=True)
    for path in paths:
        target = Path(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                target.unlink()


_watchdog: subprocess.Popen[bytes] | None = None
#: How long a driver waits for its new watchdog to start watching (it never fails on it).
_READY_TIMEOUT_S = 10.0
_owner = 0


def ensure_started() -> None:
    """Start this process's watchdog if it has none yet. Never raises: a watchdog that
    cannot start leaves the driver working as before."""
    global _watchdog, _owner
    if _owner == os.getpid() or not sys.platform.startswith("linux"):
        return
    _owner = os.getpid()  # a forked child starts its own (and never stops its parent's)
    with contextlib.suppress(OSError):
        _watchdog = subprocess.Popen(
            [sys.executable, "-m", "gmat_sweep.reaper", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outside a Ctrl-C or kill of the driver's group
        )
        atexit.register(_stop, os.getpid())
        # Until the watchdog has listed the processes the driver already had, a child
        # started now would count as one of them and be left running: wait for it.
        assert _watchdog.stdout is not None
        select.select([_watchdog.stdout], [], [], _READY_TIMEOUT_S)
        _watchdog.stdout.close()


def remove_if_driver_dies(path: str | os.PathLike[str]) -> None:
    """Have this process's watchdog remove ``path`` (a file or a folder) if the process dies
    without a normal exit; starts the watchdog if needed.

    For what the driver makes and removes itself on a normal exit (a private cluster's
    working directory, throwaway certificates): a driver killed by SIGKILL leaves
    nothing behind. Never raises; without a watchdog (not Linux) it does nothing.
    """
    ensure_started()
    proc = _watchdog
    if proc is None or proc.stdin is None or _owner != os.getpid():
        return
    line = f"remove {os.path.abspath(os.fspath(path))}\n"
    with contextlib.suppress(OSError, ValueError):
        proc.stdin.write(line.encode("utf-8", "surrogateescape"))
        proc.stdin.flush()


def make_private_directory(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new folder only this user can open (mode 0700), in ``parent`` (default: the
    temporary directory), that the watchdog removes if this process is killed; the caller
    removes it on a normal close.

    Raises:
        OSError: the folder cannot be made in ``parent``.
    """
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    remove_if_driver_dies(folder)
    return folder


def _stop(owner: int) -> None:
    """At a normal exit: tell the watchdog the driver cleaned up after itself."""
    global _watchdog
    proc, _watchdog = _watchdog, None
    if proc is None or proc.stdin is None or os.getpid() != owner:
        return
    with contextlib.suppress(OSError):
        proc.stdin.write(b"stop\n")
        proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    watch(int(sys.argv[1]))
