"""Processes on this machine, as the driver's housekeeping sees them (Linux ``/proc``).

One owner for the questions the sweep lock, the watchdog, scratch cleanup, the worker and
the test helpers ask: is a pid still the process that was recorded (a pid is reused once
its process is reaped), which processes descend from another or share a session, and what
a process's end says. Where ``/proc`` does not exist, a pid that answers ``kill(pid, 0)``
counts as alive and nothing else is known.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

__all__ = [
    "STOP_SIGNALS",
    "Identity",
    "boot_id",
    "descendants",
    "describe_exit",
    "pid_alive",
    "process_stat",
    "session_members",
]

Identity = tuple[int, str]  # (pid, start time in clock ticks since boot)

# Signals that stop a process from outside (scancel, a pod's eviction, a shutdown) and that
# GMAT never raises itself. (A SIGKILL may be the kernel's out-of-memory killer acting on
# the process's own memory: it is not among them.)
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGHUP, signal.SIGINT})


def describe_exit(returncode: int | None) -> str:
    """How a process ended, for a message: ``SIGSEGV``, ``exit code 3``, ``did not exit``
    (None: still running, or its end went unseen)."""
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after ``pid (comm)``: state, ppid, pgrp, session...

    Read with one ``os.read`` (the file is one short line): the watchdog reads every
    process's twice a second, and on a login node with thousands of processes
    ``Path.read_text`` cost it 4x the CPU."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
    except OSError:
        return None
    fields = data.rpartition(b")")[2].decode("ascii", "replace").split()
    return fields if len(fields) > 19 else None


def process_stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of ``pid``; None when it is gone, a zombie, or unknown."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), fields[19]


def session_members(session: int) -> list[int]:
    """The pids of session ``session`` (its leader's pid) now, zombies included."""
    members = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                fields = _stat_fields(int(entry))
                if fields is not None and int(fields[3]) == session:
                    members.append(int(entry))
    return members


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    if not Path("/proc/self/stat").exists():
        return True
    return process_stat(pid) is not None


def boot_id() -> str:
    """This boot's id ("" where unknown): a pid recorded in another boot is not alive."""
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return ""


def descendants(root: int) -> set[Identity]:
    """Every live descendant of ``root`` now."""
    children: dict[int, list[Identity]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = process_stat(int(entry))
                if stat is not None:
                    children.setdefault(stat[0], []).append((int(entry), stat[1]))
    found: set[Identity] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child[0])
    return found
