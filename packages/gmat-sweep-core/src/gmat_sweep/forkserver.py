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
the next sweep of a long-lived process, a notebook's or a Dask worker's, finds it); the
starter stops it as it exits (:func:`stop_started_servers`). On
SIGTERM (a cancelled job stops everything in it) it forks no more and exits once each of
its hosts has exited and that exit is reported, so a worker learns its host was stopped.
The serving half is :mod:`gmat_sweep.forkserver_process`.

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
import signal
import socket
import sys
import threading
import time

__all__ = ["LINGER_S", "ForkedHost", "fork_host", "server_address", "stop_started_servers"]

LINGER_S = 2.0
_CONNECT_TIMEOUT_S = 10.0
_FORK_TIMEOUT_S = 120.0  # the server imports first: slow on a loaded machine
_MAX_MESSAGE = 1 << 20
_IDLE_POLL_S = 0.1
_EXIT_WAIT_S = 0.5  # at exit, for the servers this process started (idle ones go in ms)
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
                data = self._recv_report()
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

    def _recv_report(self) -> bytes:
        """The server's next message (b"" once it closed). A "kill" we sent just as the
        server reported the exit and closed is left unread there, and then the first
        read fails with ECONNRESET while the report still waits behind it: read again."""
        try:
            return self._connection.recv(_MAX_MESSAGE, socket.MSG_DONTWAIT)
        except ConnectionResetError:
            return self._connection.recv(_MAX_MESSAGE, socket.MSG_DONTWAIT)


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
        _started[:] = _running(_started)
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


def stop_started_servers() -> None:
    """SIGTERM the servers this process started (each forks no more and exits once its
    hosts have) and wait up to :data:`_EXIT_WAIT_S` for them; called at exit after this
    process's own hosts are stopped (:func:`gmat_sweep.hosts.shutdown_hosts`), so nothing
    a finished sweep started outlives it. A server still serving another process's hosts
    is left to finish them and exits after the last."""
    with _start_lock:
        servers = list(_started)
        _started.clear()
    for pid in servers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _EXIT_WAIT_S
    while (servers := _running(servers)) and time.monotonic() < deadline:
        time.sleep(0.01)


def _running(servers: list[int]) -> list[int]:
    """Those of ``servers`` (children of this process) still running; the rest are reaped."""
    running = []
    for pid in servers:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                running.append(pid)
    return running


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


if __name__ == "__main__":
    from gmat_sweep.forkserver_process import main

    main()
