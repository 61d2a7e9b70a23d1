"""GMAT host processes as seen from the process that uses them (worker or driver).

A :class:`GmatHost` is one process running :mod:`gmat_sweep.host` (the side that owns
GMAT and the protocol) and the two pipes to it; the host fork server
(:mod:`gmat_sweep.forkserver`) forks it, or, where none can be had, it is spawned
afresh. This module decides which host serves a run:

- Each thread has at most one host of its own, reused between runs when
  ``reuse_gmat_context`` is on and the run's key (script content hash, ``GMAT_ROOT``)
  matches; a run with another key gets a fresh host. A pool may run several runs at
  once in one process (Dask threads, the local pool's threads); a host serves one run
  at a time.
- Spare hosts wait in a process-wide reservoir: :func:`prestart` starts hosts, from a
  background thread, whose GMAT bootstraps meanwhile, and :func:`donate` hands over a
  host that is already warm (the driver's validation host). A thread without a host of
  the right key takes one from the reservoir, waiting for one still being started,
  before starting a new one. :func:`discard_spares` closes what was not taken.

A host starts bootstrapping GMAT the moment it is created (its ``hello`` request is
sent at once); :meth:`GmatHost.ready` waits for the reply only when the host is first
used, so hosts created together bootstrap side by side. Hosts exit by themselves when
the process that uses them dies.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

__all__ = [
    "GmatHost",
    "HostDied",
    "acquire",
    "close_thread_host",
    "discard_spares",
    "donate",
    "host_key",
    "kill_thread_host",
    "prestart",
    "release",
    "shutdown_hosts",
]

HOST_START_TIMEOUT_S = 600.0

HostKey = tuple[str, str]


class HostDied(Exception):
    """The GMAT host process ended while we waited for its reply."""


def host_key(script_sha256: str) -> HostKey:
    """The key that binds a host to one script (by content) and one ``GMAT_ROOT``."""
    return (script_sha256, os.environ.get("GMAT_ROOT", ""))


class GmatHost:
    """One GMAT host child process and the pipes to it; GMAT starts bootstrapping at once."""

    def __init__(self, key: HostKey) -> None:
        from gmat_sweep import forkserver

        self.key = key
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            self.process: forkserver.ForkedHost | _SpawnedHost = forkserver.fork_host(
                request_read, reply_write
            ) or _SpawnedHost(request_read, reply_write)
        except BaseException:
            os.close(request_write)
            os.close(reply_read)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = Connection(request_write, readable=False, writable=True)
        self._replies = Connection(reply_read, readable=True, writable=False)
        self.fingerprint: dict[str, str] = {}
        self.start_error: dict[str, str] | None = None
        self._hello_pending = True
        self._send({"op": "hello"})

    def ready(self, timeout: float = HOST_START_TIMEOUT_S) -> None:
        """Wait for GMAT's bootstrap (once); sets ``fingerprint`` and ``start_error``.

        Raises:
            TimeoutError, HostDied: as :meth:`call`.
        """
        if self._hello_pending:
            reply = self._receive(timeout)
            self._hello_pending = False
            self.fingerprint = dict(reply.get("fingerprint", {}))
            self.start_error = reply.get("error")

    def call(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """Send ``request`` and wait up to ``timeout`` s for the reply (after :meth:`ready`).

        Raises:
            TimeoutError: no reply in time (the host is still running).
            HostDied: the host exited first.
        """
        self.ready()
        self._send(request)
        return self._receive(timeout)

    def _send(self, request: dict[str, Any]) -> None:
        try:
            self._requests.send(request)
        except OSError as exc:
            raise HostDied(str(exc)) from exc

    def _receive(self, timeout: float | None) -> dict[str, Any]:
        try:
            answered = self._replies.poll(timeout)
            reply: dict[str, Any] = self._replies.recv() if answered else {}
        except (EOFError, OSError) as exc:
            raise HostDied(str(exc)) from exc
        if not answered:  # raised here: TimeoutError is an OSError, not a dead host
            raise TimeoutError
        return dict(reply)

    def alive(self) -> bool:
        return self.process.alive()

    def kill(self) -> int | None:
        """Kill the host's whole process group; return its exit code (None: unknown)."""
        self.process.kill_group()
        return self.wait()

    def wait(self) -> int | None:
        return self.process.wait(timeout=10)

    def close(self) -> None:
        """Ask the host to exit (kill it if it does not). Idempotent."""
        if self.alive():
            with contextlib.suppress(OSError):
                self._requests.send({"op": "exit"})
            if self.process.wait(timeout=5) is None and self.alive():
                self.kill()
        for conn in (self._requests, self._replies):
            conn.close()
        self.process.close()


class _SpawnedHost:
    """A host started as a fresh ``python -m gmat_sweep.host`` (no fork server to be had)."""

    def __init__(self, request_read: int, reply_write: int) -> None:
        self._popen = subprocess.Popen(
            [sys.executable, "-m", "gmat_sweep.host", str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        if self._popen.returncode is None:  # not reaped: the pid is still the host's
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        pass


_lock = threading.Lock()
_spare_added = threading.Condition(_lock)
_all_hosts: set[GmatHost] = set()
_spares: list[GmatHost] = []
# Spare hosts of each key that prestart() is still starting (a taker waits for them),
# and the count of discards: a spare started before the last one is closed on arrival.
_starting: dict[HostKey, int] = {}
_generation = [0]
# The host each thread reuses, by thread ident (so another thread can stop it).
_by_thread: dict[int, GmatHost] = {}


def _thread_host() -> GmatHost | None:
    return _by_thread.get(threading.get_ident())


def _set_thread_host(host: GmatHost) -> None:
    with _lock:
        _by_thread[threading.get_ident()] = host
    if not hasattr(_thread_end, "watch"):
        _thread_end.watch = _ThreadEnd(threading.get_ident())


class _ThreadEnd:
    """Kept in a thread's local storage, so dropped when the thread ends (CPython clears
    a finished thread's locals in that thread, before its ident can be reused): closes
    the host the thread reused. So the hosts of a pool's worker threads (a LocalPool's,
    an in-process Dask worker's) stop with the threads, not at interpreter exit."""

    __slots__ = ("ident",)

    def __init__(self, ident: int) -> None:
        self.ident = ident

    def __del__(self) -> None:
        try:
            with _lock:
                host = _by_thread.pop(self.ident, None)
            if host is not None:
                _forget(host)
                host.close()
        except Exception:  # at interpreter exit: shutdown_hosts() has closed them
            pass


_thread_end = threading.local()


def _forget(host: GmatHost) -> None:
    with _lock:
        _all_hosts.discard(host)
        if host in _spares:
            _spares.remove(host)
        for ident in [i for i, h in _by_thread.items() if h is host]:
            del _by_thread[ident]


def _new_host(key: HostKey) -> GmatHost:
    host = GmatHost(key)
    with _lock:
        _all_hosts.add(host)
    return host


def _take_spare(key: HostKey) -> GmatHost | None:
    """A spare of ``key``, waiting while prestart() is still starting one; None if none."""
    with _lock:
        while True:
            for index, host in enumerate(_spares):
                if host.key == key:
                    del _spares[index]
                    return host
            if not _starting.get(key):
                return None
            _spare_added.wait()


def acquire(key: HostKey, reuse: bool) -> GmatHost:
    """The host to serve this thread's next run of ``key``, bootstrapped (see :meth:`ready`).

    Raises:
        TimeoutError, HostDied: GMAT's bootstrap did not answer (the host is not kept).
    """
    current = _thread_host()
    if reuse and current is not None and current.key == key and current.alive():
        return current
    if current is not None:
        _forget(current)
        current.close()
    host = _take_spare(key)
    if host is None or not host.alive():
        if host is not None:
            _forget(host)
            host.close()
        host = _new_host(key)
    _set_thread_host(host)  # also when not reused: kill_thread_host must find it
    try:
        host.ready()
    except BaseException:
        _forget(host)
        host.kill()
        host.close()
        raise
    return host


def release(host: GmatHost, reuse: bool, healthy: bool) -> None:
    """Done with ``host`` for this run: keep it (reuse, healthy), close or kill it."""
    if reuse and healthy:
        return
    _forget(host)
    if not healthy:
        host.kill()
    host.close()


def close_thread_host() -> None:
    """Close the calling thread's own host, if it has one (a worker thread ending)."""
    host = _thread_host()
    if host is not None:
        _forget(host)
        host.close()


def kill_thread_host(ident: int) -> None:
    """Kill the host the thread ``ident`` reuses, if any; its current run ends ``crashed``."""
    with _lock:
        host = _by_thread.get(ident)
    if host is not None:
        host.kill()


def prestart(key: HostKey, count: int) -> None:
    """Start ``count`` spare hosts of ``key`` from a background thread and return at once;
    GMAT bootstraps in each meanwhile. A thread that wants a host of ``key`` waits for
    one of these rather than starting its own; :func:`discard_spares` and
    :func:`shutdown_hosts` also close those that were still being started."""
    if count <= 0:
        return
    with _lock:
        _starting[key] = _starting.get(key, 0) + count
        generation = _generation[0]
    threading.Thread(
        target=_start_spares, args=(key, count, generation), daemon=True,
        name="gmat-sweep-prestart",
    ).start()  # fmt: skip


def _start_spares(key: HostKey, count: int, generation: int) -> None:
    made = 0
    try:
        for _ in range(count):
            host = GmatHost(key)
            made += 1
            with _lock:
                current = generation == _generation[0]  # not discarded meanwhile
                if current:
                    _all_hosts.add(host)
                    _spares.append(host)
                _starting[key] -= 1
                _spare_added.notify_all()
            if not current:
                host.close()
    finally:
        with _lock:  # those that did not start (no pipe, no process) will not come
            left = _starting.get(key, 0) - (count - made)  # another prestart may be at 0
            if left > 0:
                _starting[key] = left
            else:
                _starting.pop(key, None)
            _spare_added.notify_all()


def donate(host: GmatHost) -> None:
    """Hand a healthy host made elsewhere (e.g. for validation) to the reservoir."""
    if not host.alive():
        host.close()
        return
    with _lock:
        _all_hosts.add(host)
        _spares.append(host)


def discard_spares() -> None:
    """Close every spare host that no run took, and those still being started."""
    with _lock:
        spares = list(_spares)
        _spares.clear()
        _generation[0] += 1
    for host in spares:
        _forget(host)
        host.close()


def shutdown_hosts() -> None:
    """Stop every host this process started. Safe to call at any time."""
    with _lock:
        hosts = list(_all_hosts)
        _all_hosts.clear()
        _spares.clear()
        _by_thread.clear()
        _generation[0] += 1
    for host in hosts:
        host.close()


def _at_exit() -> None:
    shutdown_hosts()
    forkserver = sys.modules.get("gmat_sweep.forkserver")  # loaded once a host was made
    if forkserver is not None:
        forkserver.stop_started_servers()


atexit.register(_at_exit)
