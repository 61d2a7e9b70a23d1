"""The host fork server: one process per machine that has imported what a GMAT host needs
and forks hosts on request.

A GMAT host spawned afresh spends about a second of CPU importing gmat-run, pandas and
pyarrow before GMAT itself bootstraps; sixteen Dask workers on one node starting their
hosts together spend sixteen of those seconds. The fork server spends it once
(:func:`gmat_sweep.host.preload`; not GMAT, which each host bootstraps after the fork) and
then forks a host in milliseconds. Forked hosts also share those pages.

Who shares a server: the processes of one user on one machine that would start a host
the same way: the same Python and gmat-sweep, control group (a Slurm job's, a
container's), resource limits and umask, and the same environment variables that act when
a process starts (``LD_*``, ``PYTHON*``, ``MALLOC_*``, thread counts). The rest of the
environment, the working directory and the CPU affinity are the requesting process's: the
forked host takes them on before it serves. The address is an abstract Unix socket named
from all of that; the server answers only peers of its own user.

Lifetime: the first process that needs a host starts the server (its child, in a session
of its own). The server exits once it has no connection and no
living host: at once when that first process is gone, else after :data:`LINGER_S` (so
the next sweep of a long-lived process, a notebook's or a Dask worker's, finds it).

Protocol: ``SOCK_SEQPACKET``, one JSON message per packet, one connection per host.

- client: ``{"op": "fork", "cwd", "env", "cpus"}`` with the host's request-pipe read end
  and reply-pipe write end as ``SCM_RIGHTS``; server: ``{"pid": N}``.
- client: ``{"op": "kill"}``: the server SIGKILLs the host's process group, unless it has
  already reaped the host (so a reused pid is never hit).
- server, when the host has exited: ``{"exit": returncode}`` (negative: the signal), then
  it closes the connection. A client that closes first changes nothing for the host, which
  exits once the writer of its request pipe, the client, is gone.

Linux only, on unless ``GMAT_SWEEP_FORKSERVER=0``. Otherwise, or when no server answers,
:func:`fork_host` returns None and the caller spawns the host itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from typing import Any

__all__ = ["LINGER_S", "ForkedHost", "fork_host", "server_address"]

LINGER_S = 2.0
_CONNECT_TIMEOUT_S = 10.0
_FORK_TIMEOUT_S = 120.0  # the server imports first: slow on a loaded machine
_MAX_MESSAGE = 1 << 20
_IDLE_POLL_S = 0.1
_STARTUP_VARIABLES = ("LD_", "PYTHON", "MALLOC_", "DYLD_", "OMP_", "MKL_", "OPENBLAS_")


def _enabled() -> bool:
    return (
        sys.platform.startswith("linux")
        and hasattr(socket, "SOCK_SEQPACKET")
        and os.environ.get("GMAT_SWEEP_FORKSERVER", "1") != "0"
    )


def server_address() -> str:
    """The abstract socket name of the server this process shares (see the module doc)."""
    import resource

    from gmat_sweep._version import __version__

    startup = sorted(
        (k, v)
        for k, v in os.environ.items()
        if k.startswith(_STARTUP_VARIABLES) or k.endswith("_NUM_THREADS") or k == "MALLOC_CONF"
    )
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as file:
            cgroup = file.read()
    except OSError:
        cgroup = ""
    umask = os.umask(0o022)
    os.umask(umask)
    limits = [resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
              if name.startswith("RLIMIT_")]  # fmt: skip
    identity = [sys.executable, __version__, startup, cgroup, umask, limits]
    digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:24]
    return f"gmat-sweep-forkserver-{os.getuid()}-{digest}"


# ---- the client side: what a worker or the driver calls ----------------------------------


class ForkedHost:
    """A host process the fork server forked: whether it lives, its exit code, killing it.

    Safe to use from several threads (a timeout kills the host from another thread).
    """

    def __init__(self, connection: socket.socket, pid: int) -> None:
        self.pid = pid
        self._connection = connection
        self._lock = threading.Lock()
        self._returncode: int | None = None
        self._ended = False  # the server reported the exit, or the host is seen gone
        self._blind = False  # no report can come: the server is gone, or we closed

    def alive(self) -> bool:
        if not self._ended:
            if self._blind:
                self._ended = not _pid_alive(self.pid)
            else:
                self._read(0.0)
        return not self._ended

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to ``timeout`` s for the host to exit. Its return code (negative: the
        signal), or None when it still runs or its exit went unreported (the server died)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.alive():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if self._blind:
                time.sleep(0.05 if left is None else min(0.05, left))
            else:
                self._read(left)
        return self._returncode

    def kill_group(self) -> None:
        """SIGKILL the host's process group; through the server, which has not reaped it
        yet if it is still in the server's books (so a reused pid is never hit)."""
        if self._ended:
            return
        try:
            self._connection.send(b'{"op": "kill"}')
        except OSError:  # the server is gone: nobody reaps the host, so its pid is its own
            if _pid_alive(self.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop listening for the host's exit (it is not killed)."""
        with self._lock:
            self._blind = True
            self._connection.close()

    def _read(self, timeout: float | None) -> None:
        """Take the server's report of the exit, if it comes within ``timeout`` s."""
        import select

        try:
            readable, _, _ = select.select([self._connection], [], [], timeout)
        except (OSError, ValueError):  # closed meanwhile
            readable = [self._connection]
        if not readable:
            return
        with self._lock:
            if self._ended or self._blind:
                return
            try:
                data = self._connection.recv(_MAX_MESSAGE, socket.MSG_DONTWAIT)
            except BlockingIOError:  # another thread took the report
                return
            except OSError:
                data = b""
            if data:
                self._returncode = int(json.loads(data)["exit"])
                self._ended = True
            else:  # the server died: the host was re-parented, its exit code is lost
                self._ended = not _pid_alive(self.pid)
            self._blind = True
            self._connection.close()


def _pid_alive(pid: int) -> bool:
    from gmat_sweep.processes import pid_alive

    return pid_alive(pid)


_start_lock = threading.Lock()
_started: list[int] = []  # servers this process started and has not reaped yet


def fork_host(request_read: int, reply_write: int) -> ForkedHost | None:
    """A host forked by this process's fork server, serving on these two pipe ends (which
    the caller still closes); None when no fork server can serve (see the module doc)."""
    if not _enabled():
        return None
    address = server_address()
    for _ in range(2):  # a server that was just lingering out may close on us once
        connection = _connect(address)
        if connection is None:
            return None
        try:
            return _request_fork(connection, request_read, reply_write)
        except (OSError, ValueError, KeyError):
            connection.close()
    return None


def _connect(address: str) -> socket.socket | None:
    deadline = time.monotonic() + _CONNECT_TIMEOUT_S
    started = False
    while time.monotonic() < deadline:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            connection.connect("\0" + address)
            return connection
        except OSError:
            connection.close()
        if not started:
            _start_server(address)
            started = True
        time.sleep(0.01)
    return None


def _start_server(address: str) -> None:
    """Start a server at ``address`` (in a session of its own; it outlives no one: see the
    module doc), and reap the ones this process started that have exited since."""
    devnull = os.devnull
    with _start_lock:
        for pid in list(_started):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            _started.remove(pid)
        _started.append(
            os.posix_spawn(
                sys.executable,
                [sys.executable, "-m", "gmat_sweep.forkserver", address],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
                ],
                setsid=True,
            )
        )


def _request_fork(connection: socket.socket, request_read: int, reply_write: int) -> ForkedHost:
    with contextlib.suppress(OSError):
        cpus = sorted(os.sched_getaffinity(0))
    request = {"op": "fork", "cwd": os.getcwd(), "env": dict(os.environ), "cpus": cpus}
    socket.send_fds(connection, [json.dumps(request).encode()], [request_read, reply_write])
    connection.settimeout(_FORK_TIMEOUT_S)
    reply = json.loads(connection.recv(_MAX_MESSAGE) or b"null")
    connection.settimeout(None)
    if not isinstance(reply, dict):
        raise ValueError("the fork server closed the connection")
    return ForkedHost(connection, int(reply["pid"]))


# ---- the server side -----------------------------------------------------------------------


class _Server:
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


if __name__ == "__main__":
    main()
