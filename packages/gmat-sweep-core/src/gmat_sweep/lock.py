"""One driver per sweep directory: the lock file ``out/.gmat-sweep.lock``.

A driver holds the lock while it runs, resumes or extends a sweep, from before it writes
anything in ``out`` until it has written its last line. What it guarantees:

- **One holder.** The lock file is created with ``O_CREAT | O_EXCL``, which is atomic on
  local filesystems and on NFSv3 and later, so of two drivers starting together exactly
  one gets it; the other is refused at once with :class:`SweepLockedError`, which names
  the holder (host, pid, since when) and what to do.
- **A dead holder does not block.** On the holder's own host its pid is checked: a pid
  that is gone, or that now belongs to another process (another start time or another
  boot), frees the lock at once. From another host (a Slurm job requeued on another
  node) the holder's lease is checked: the holder renews the file's modification time
  every quarter lease, and a lock not renewed for ``GMAT_SWEEP_LOCK_LEASE_S`` seconds
  (default 120) is taken over. The hosts' clocks must agree to well within the lease.
- **A holder that lost its lock stops writing.** Each renewal and each group commit
  checks that the file is still this holder's; if another driver took it over (this one
  stalled for longer than the lease), :meth:`SweepLock.verify` raises
  :class:`SweepLockLostError` before anything more is written.

Reading a sweep (``Sweep.from_manifest(out).results()``, ``gmat-sweep show``) takes no
lock.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from gmat_sweep.errors import OutputDirError, SweepConfigError, SweepLockedError, SweepLockLostError
from gmat_sweep.processes import boot_id, pid_alive, process_stat
from gmat_sweep.records import utcnow

__all__ = ["DEFAULT_LEASE_S", "LEASE_ENV", "LOCK_NAME", "SweepLock", "lease_s", "took_over_message"]

LOCK_NAME = ".gmat-sweep.lock"
LEASE_ENV = "GMAT_SWEEP_LOCK_LEASE_S"
DEFAULT_LEASE_S = 120.0


def took_over_message(out: Path, took_over: dict[str, Any]) -> str:
    """What a driver that took the lock over says (it is also in the session line)."""
    return (
        f"took over the lock of {out} from {took_over.get('what') or 'a driver'} "
        f"(pid {took_over.get('pid')} on host {took_over.get('host')}, since "
        f"{took_over.get('since')}): {took_over.get('reason')}. If that driver is in fact "
        "still running (another node with a stalled filesystem), it stops at its next "
        "commit; its last uncommitted runs are run again here."
    )


def lease_s() -> float:
    """The lease from ``GMAT_SWEEP_LOCK_LEASE_S`` (default 120 s).

    Raises:
        SweepConfigError: not a number, or not at least 1 s.
    """
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1.0:
        raise SweepConfigError(
            f"{LEASE_ENV}={raw!r}: expected a number of seconds >= 1 (default "
            f"{DEFAULT_LEASE_S:.0f}), the time after which a lock its holder stopped renewing "
            "may be taken over from another host"
        )
    return value


def _start_of(pid: int) -> str:
    stat = process_stat(pid)
    return stat[1] if stat is not None else ""


def _read(path: Path) -> dict[str, Any] | None:
    """The lock record, or None when there is no lock file (or it is being replaced)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        # A holder killed between creating and writing the file: judged by its age alone.
        return {"host": "", "pid": 0, "token": "", "since": "unknown"}
    return record


class SweepLock:
    """The lock of the sweep in ``out``; acquire with :meth:`acquire`, end with :meth:`release`.

    Also a context manager (acquires on enter, releases on exit).
    """

    def __init__(self, out: Path, *, what: str = "run") -> None:
        self.path = Path(out) / LOCK_NAME
        self.what = what
        self.lease = lease_s()
        self.token = uuid.uuid4().hex
        self._held = False
        self._lost = False
        #: Set when :meth:`acquire` took the lock over from a holder that was gone: who
        #: held it (host, pid, what, since) and why it no longer did (``reason``).
        self.took_over: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> SweepLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- taking it -------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lock, or take over one whose holder is gone.

        Raises:
            SweepLockedError: another live driver holds it.
            OutputDirError: the lock file cannot be written in ``out``.
        """
        record = {
            "host": socket.gethostname(), "pid": os.getpid(), "boot": boot_id(),
            "start": _start_of(os.getpid()), "token": self.token, "what": self.what,
            "since": utcnow(),
        }  # fmt: skip
        data = (json.dumps(record) + "\n").encode()
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _read(self.path)
                if holder is not None:
                    self._take_over_if_stale(holder)
                continue
            except OSError as exc:
                raise OutputDirError(
                    f"cannot create the sweep's lock file {self.path}: {exc.strerror or exc}. "
                    "Choose an out directory you can write to."
                ) from exc
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._held = True
            self._renewer = threading.Thread(
                target=self._renew_loop, name="gmat-sweep-lock", daemon=True
            )
            self._renewer.start()
            return
        raise OutputDirError(f"could not take the lock {self.path}: it changes hands too often")

    def _take_over_if_stale(self, holder: dict[str, Any]) -> None:
        """Remove ``holder``'s lock file if it is dead; raise SweepLockedError if alive."""
        why_stale = self._stale(holder)
        if why_stale is None:
            raise SweepLockedError(self._locked_message(holder), holder=holder)
        # Move the file aside (atomic) and check it was the one judged stale: a driver
        # that took it over in between must keep its lock.
        aside = self.path.with_name(f"{LOCK_NAME}.stale-{self.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        moved = _read(aside)
        if moved is not None and moved.get("token") != holder.get("token"):
            with contextlib.suppress(OSError):  # exists again, or no hard links here
                os.link(aside, self.path)
        else:
            fields = ("host", "pid", "what", "since")
            self.took_over = {**{k: holder.get(k) for k in fields}, "reason": why_stale}
        aside.unlink(missing_ok=True)

    def _stale(self, holder: dict[str, Any]) -> str | None:
        """Why ``holder`` no longer holds the lock, or None while it may."""
        same_host = holder.get("host") == socket.gethostname()
        boot, now_boot = holder.get("boot"), boot_id()
        if same_host and boot and now_boot and boot != now_boot:
            return "recorded before this host last booted"
        pid = holder.get("pid")
        if same_host and isinstance(pid, int) and pid > 0:
            if not pid_alive(pid):
                return f"pid {pid} is gone"
            start = holder.get("start")
            if start and start != _start_of(pid):
                return f"pid {pid} is now another process"
            return None
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return "released"
        if age > self.lease:
            return f"not renewed for {age:.0f} s (lease {self.lease:.0f} s)"
        return None

    def _locked_message(self, holder: dict[str, Any]) -> str:
        host, pid = holder.get("host") or "?", holder.get("pid") or "?"
        out = self.path.parent
        try:
            renewed = f"{time.time() - self.path.stat().st_mtime:.0f} s ago"
        except OSError:
            renewed = "unknown"
        return (
            f"{out} is in use by another gmat-sweep driver: pid {pid} on host {host}, "
            f"{holder.get('what', 'running')} since {holder.get('since', '?')} (lock renewed "
            f"{renewed}). One driver at a time may run, resume or extend a sweep. Wait for it "
            f"to finish (reading the results needs no lock), or stop it (kill {pid} on "
            f"{host}). A holder that died frees the lock by itself: at once on {host}, and "
            f"for drivers on other hosts once it has not been renewed for "
            f"{self.lease:.0f} s ({LEASE_ENV}). Only if you are sure no driver uses it, "
            f"delete {self.path}."
        )

    # -- holding it ------------------------------------------------------------------

    def verify(self) -> None:
        """Check the lock is still this holder's (called before each group commit).

        Raises:
            SweepLockLostError: another driver took it over; nothing more may be written.
        """
        if not self._held:
            return
        try:
            record = _read(self.path)
        except OSError:
            return  # unreadable for now (a network filesystem's hiccup): check next time
        if self._lost or (record or {}).get("token") != self.token:
            self._lost = True
            holder = record or {}
            raise SweepLockLostError(
                f"this driver lost the lock of {self.path.parent} to pid "
                f"{holder.get('pid', '?')} on host {holder.get('host', '?')} (it stalled "
                f"for longer than the {self.lease:.0f} s lease, {LEASE_ENV}); it stops "
                "without writing more. Everything committed before is kept; the other "
                "driver carries on."
            )

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 4):
            try:
                self.verify()
            except SweepLockLostError:
                return  # the next commit raises it in the driver's own thread
            # A failed renewal (a network filesystem's hiccup) is tried again next time;
            # only a lease missed for its whole length lets another host take over.
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        """Give the lock up (its file is removed if it is still this holder's)."""
        if not self._held:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self._held = False
        if not self._lost and (_read(self.path) or {}).get("token") == self.token:
            self.path.unlink(missing_ok=True)
