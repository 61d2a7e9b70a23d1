"""The host fork server's own process (``python -m gmat_sweep.forkserver ADDRESS``): it
imports what a host needs once, then forks hosts on request and reports their exits.

The protocol, who shares a server and its lifetime are stated in :mod:`gmat_sweep.forkserver`,
which owns them; this module is the serving half only.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

from gmat_sweep.forkserver import _IDLE_POLL_S, _MAX_MESSAGE, LINGER_S

__all__ = ["main"]


class _Server:
    """Serves fork, kill and exit reports on one listening socket; see :meth:`run`."""

    def __init__(self, listener: socket.socket, start_dir: str) -> None:
        self.listener = listener
        self.start_dir = start_dir  # sys.path[0] of this ``python -m`` process
        self.selector = selectors.DefaultSelector()
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        self.connections: set[socket.socket] = set()
        self.hosts: dict[int, socket.socket] = {}  # pid -> its client's connection
        self.stopping = False

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def run(self, starter: int) -> None:
        """Serve until idle: no connection and no living host for LINGER_S, or at once
        when the process that started the server (``starter``) is gone. On SIGTERM, fork
        no more and return once every host has exited and its exit is reported (a job's
        cancellation stops the hosts too: their workers learn of a signal, not a crash)."""
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        signal.set_wakeup_fd(self.wake_write)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.wake_read, selectors.EVENT_READ)
        idle_since = time.monotonic()
        while True:
            if self.stopping:
                if self.listener.fileno() >= 0:
                    self.selector.unregister(self.listener)
                    self.listener.close()
                if not self.hosts:
                    return
            if self.connections or self.hosts:
                idle_since = time.monotonic()
            elif os.getppid() != starter or time.monotonic() - idle_since >= LINGER_S:
                return
            idle = not self.connections and not self.hosts
            for key, _ in self.selector.select(_IDLE_POLL_S if idle else None):
                if key.fileobj is self.listener:
                    self._accept()
                elif key.fileobj == self.wake_read:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_read, 4096)
                else:
                    assert isinstance(key.fileobj, socket.socket)
                    self._serve(key.fileobj)
            self._reap()

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        if int.from_bytes(credentials[4:8], sys.byteorder) != os.getuid():
            connection.close()  # another user's process: it could run missions as us
            return
        self.connections.add(connection)
        self.selector.register(connection, selectors.EVENT_READ)

    def _drop(self, connection: socket.socket) -> None:
        self.selector.unregister(connection)
        self.connections.discard(connection)
        connection.close()

    def _serve(self, connection: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(connection, _MAX_MESSAGE, 2)
        except OSError:
            data, fds = b"", []
        try:
            request = json.loads(data) if data else None
            if request is None:
                self._drop(connection)  # the client is done with the host, or died
            elif request.get("op") == "fork" and len(fds) == 2 and not self.stopping:
                pid = self._fork(request, fds)
                self.hosts[pid] = connection
                connection.send(json.dumps({"pid": pid}).encode())
            elif request.get("op") == "kill":
                for pid in [pid for pid, owner in self.hosts.items() if owner is connection]:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
            else:
                self._drop(connection)
        except (OSError, ValueError):
            if connection in self.connections:
                self._drop(connection)
        finally:
            for fd in fds:
                os.close(fd)

    def _fork(self, request: dict[str, Any], fds: list[int]) -> int:
        pid = os.fork()
        if pid == 0:  # the host: nothing of the server's may stay open in it
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                self.selector.close()
                self.listener.close()
                for other in self.connections:
                    other.close()
                os.close(self.wake_read)
                os.close(self.wake_write)
                os.setsid()
                _take_on(request, self.start_dir)
                from gmat_sweep.host import serve_forked

                serve_forked(fds[0], fds[1])
                code = 0
            finally:
                os._exit(code)
        return pid

    def _reap(self) -> None:
        while self.hosts:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.hosts.pop(pid, None)
            if connection is not None and connection in self.connections:
                exit_code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):
                    connection.send(json.dumps({"exit": exit_code}).encode())
                self._drop(connection)


def _take_on(request: dict[str, Any], start_dir: str) -> None:
    """In a new host: the requesting process's environment, directory and CPUs, and the
    requester's directory first on ``sys.path`` where a spawned ``python -m`` host would
    have it (modules of postprocess functions beside the user's script import alike)."""
    import tempfile

    os.environ.clear()
    os.environ.update(request.get("env", {}))
    tempfile.tempdir = None  # chosen again from the requester's TMPDIR when first asked
    cwd = request.get("cwd") or "/"
    with contextlib.suppress(OSError):
        os.chdir(cwd)
    if sys.path and sys.path[0] == start_dir:
        sys.path[0] = cwd
    cpus = request.get("cpus")
    if cpus:
        with contextlib.suppress(OSError, ValueError):
            os.sched_setaffinity(0, cpus)


def main(argv: list[str] | None = None) -> None:
    """``python -m gmat_sweep.forkserver ADDRESS``: serve at ADDRESS until idle."""
    address = (sys.argv[1:] if argv is None else argv)[0]
    # Hold nothing the starter left inheritable (an MPI worker's channels to its launcher,
    # a job step's pipes): the server and its hosts outlive the starter, and a launcher
    # waits for every holder before it counts a job as ended.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind("\0" + address)  # bound before the imports: clients queue meanwhile
    except OSError:
        return  # another server took the address first: it serves
    listener.listen(128)
    starter, start_dir = os.getppid(), os.getcwd()
    os.chdir("/")  # hold no directory of the starter's busy
    from gmat_sweep.host import preload

    preload()
    _Server(listener, start_dir).run(starter)
