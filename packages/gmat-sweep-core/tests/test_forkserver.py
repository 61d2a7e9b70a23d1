"""The host fork server: hosts forked from one pre-imported process, and nothing outlives use."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gmat_sweep import forkserver, hosts
from gmat_sweep.hosts import GmatHost, host_key
from gmat_sweep.processes import pid_alive, process_stat
from gmat_sweep.testing import FakeGmatRule, kit_script

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _parent(pid: int) -> int:
    stat = process_stat(pid)
    assert stat is not None, f"process {pid} is gone"
    return stat[0]


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(autouse=True)
def by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GMAT_SWEEP_FORKSERVER", raising=False)  # on by default


@pytest.fixture
def new_host(gmat: Path) -> Iterator[Callable[[], GmatHost]]:
    made: list[GmatHost] = []

    def make() -> GmatHost:
        host = GmatHost(host_key("test"))
        made.append(host)
        host.ready()
        return host

    yield make
    for host in made:
        host.close()


def test_hosts_of_one_process_are_forked_by_one_server(new_host: Callable[[], GmatHost]) -> None:
    first, second, third = new_host(), new_host(), new_host()
    server = _parent(first.process.pid)
    assert {_parent(second.process.pid), _parent(third.process.pid)} == {server}
    assert server != os.getpid()
    assert "gmat_sweep.forkserver" in _command(server)
    assert first.start_error is None and first.fingerprint["gmat_sweep_core"]


def test_processes_with_the_same_start_share_one_server(
    new_host: Callable[[], GmatHost],
) -> None:
    host = new_host()
    code = (
        "from gmat_sweep.hosts import GmatHost, host_key\n"
        "from gmat_sweep.processes import process_stat\n"
        "h = GmatHost(host_key('test')); h.ready()\n"
        "print(process_stat(h.process.pid)[0]); h.close()\n"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == _parent(host.process.pid)


def test_the_address_follows_what_a_process_starts_with_not_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = forkserver.server_address()
    monkeypatch.setenv("GMAT_ROOT", "/somewhere/else")
    monkeypatch.setenv("GMAT_SWEEP_SCRATCH", "/scratch")
    assert forkserver.server_address() == address  # taken on by each host after the fork
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert forkserver.server_address() != address  # acts at start: another server
    assert str(os.getuid()) in address


def test_a_forked_host_takes_on_the_environment_and_directory_of_who_asked(
    gmat_with: Callable[..., Path],
    new_host: Callable[[], GmatHost],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    plain = new_host()  # the server now runs, started with the plain GMAT_ROOT
    gmat_with(FakeGmatRule(action="fail"))  # GMAT_ROOT now names an install that fails
    monkeypatch.chdir(tmp_path)
    failing = new_host()
    assert _parent(failing.process.pid) == _parent(plain.process.pid)
    assert Path(os.readlink(f"/proc/{failing.process.pid}/cwd")) == tmp_path
    request = {"op": "run", "script": str(kit_script()), "overrides": {}}
    ran = plain.call({**request, "workdir": str(tmp_path / "a")}, timeout=60)
    failed = failing.call({**request, "workdir": str(tmp_path / "b")}, timeout=60)
    assert ran["status"] == "ok", ran["error"]
    assert failed["status"] == "failed"


def test_a_forked_host_imports_from_the_directory_of_who_asked(
    new_host: Callable[[], GmatHost], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As a spawned ``python -m`` host would: its directory is first on sys.path, so a
    # postprocess module beside the user's script imports, wherever the server started.
    new_host()  # the server runs, started from another directory
    (tmp_path / "beside_the_script.py").write_text(
        "def one_row(outputs):\n    import pandas as pd\n    return pd.DataFrame({'n': [1]})\n"
    )
    monkeypatch.chdir(tmp_path)
    function = "beside_the_script:one_row"
    request = {
        "op": "run",
        "script": str(kit_script()),
        "overrides": {},
        "workdir": str(tmp_path / "run"),
        "retention": {"postprocess": function, "target": function},
    }
    reply = new_host().call(request, timeout=60)
    assert reply["status"] == "ok", reply["error"]
    assert list(reply["tables"]) == ["summary__one_row"]


def test_the_exit_of_a_forked_host_is_reported_with_its_signal(
    new_host: Callable[[], GmatHost],
) -> None:
    crashed, killed = new_host(), new_host()
    os.kill(crashed.process.pid, signal.SIGSEGV)
    assert crashed.wait() == -signal.SIGSEGV
    assert not crashed.alive()
    assert killed.alive()
    assert killed.kill() == -signal.SIGKILL
    assert not killed.alive()


def test_a_sigterm_to_server_and_hosts_reports_the_signal_and_stops_the_server(
    new_host: Callable[[], GmatHost],
) -> None:
    # What a cancelled Slurm job does to everything in it: the worker still learns its
    # host was stopped (so the run is lost, not crashed), and the server goes.
    host = new_host()
    server = _parent(host.process.pid)
    os.kill(server, signal.SIGTERM)
    os.kill(host.process.pid, signal.SIGTERM)
    assert host.wait() == -signal.SIGTERM
    assert _gone_within(server, 5), "a stopped server outlived its last host"
    again = new_host()  # a new server forks the next host
    assert _parent(again.process.pid) != server
    assert again.alive()


def test_a_host_whose_user_dies_exits_and_then_so_does_the_server(gmat: Path) -> None:
    code = (
        "import os\n"
        "from gmat_sweep.hosts import GmatHost, host_key\n"
        "from gmat_sweep.processes import process_stat\n"
        "h = GmatHost(host_key('test')); h.ready()\n"
        "print(h.process.pid, process_stat(h.process.pid)[0], flush=True)\n"
        "os.kill(os.getpid(), 9)\n"  # no clean-up at all
    )
    died = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert died.returncode == -signal.SIGKILL
    host, server = (int(word) for word in died.stdout.split())
    assert _gone_within(host, 5), "the host outlived the process that used it"
    assert _gone_within(server, 5), "the server outlived its last host and its starter"


def test_a_process_that_exits_takes_the_server_it_started_with_it(gmat: Path) -> None:
    code = (
        "from gmat_sweep import hosts\n"
        "from gmat_sweep.processes import process_stat\n"
        "h = hosts.acquire(hosts.host_key('test'), True); h.ready()\n"
        "print(h.process.pid, process_stat(h.process.pid)[0], flush=True)\n"
    )  # and exits normally, the host still its thread's, as a worker's is
    env = {**os.environ, "GMAT_SWEEP_TEST_NUM_THREADS": "1"}  # not this process's server
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    host, server = (int(word) for word in done.stdout.split())
    assert not pid_alive(host)
    assert not pid_alive(server), "the server outlived the process that started it"


def test_an_idle_server_lingers_then_exits(new_host: Callable[[], GmatHost]) -> None:
    host = new_host()
    server = _parent(host.process.pid)
    host.close()
    again = new_host()  # within the linger: the same server forks it
    assert _parent(again.process.pid) == server
    again.close()
    assert _gone_within(server, forkserver.LINGER_S + 5)


def test_with_the_server_switched_off_hosts_are_spawned(
    new_host: Callable[[], GmatHost], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAT_SWEEP_FORKSERVER", "0")
    host = new_host()
    assert _parent(host.process.pid) == os.getpid()
    assert "gmat_sweep.host " in _command(host.process.pid) + " "
    assert host.start_error is None


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_the_server_refuses_another_user(new_host: Callable[[], GmatHost]) -> None:
    new_host()  # the server runs
    address = forkserver.server_address()
    code = (
        "import json, os, socket, sys\n"
        "os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
        "s.connect(chr(0) + sys.argv[1])\n"
        "r, w = os.pipe()\n"
        "request = json.dumps({'op': 'fork', 'cwd': '/', 'env': {}}).encode()\n"
        "try:\n"
        "    socket.send_fds(s, [request], [r, w])\n"
        "    print('answered' if s.recv(4096) else 'refused')\n"
        "except OSError:\n"
        "    print('refused')\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, address], capture_output=True, text=True, timeout=30
    )
    assert other.stdout.strip() == "refused", other.stderr  # closed at once, nothing forked


def test_a_spare_reservoir_still_works_across_the_server(gmat: Path) -> None:
    key = host_key("test")
    hosts.prestart(key, 2)
    try:
        first = hosts.acquire(key, reuse=True)
        assert first.start_error is None
        assert "gmat_sweep.forkserver" in _command(_parent(first.process.pid))
    finally:
        hosts.shutdown_hosts()


def test_a_bad_message_costs_only_its_own_connection(new_host: Callable[[], GmatHost]) -> None:
    host = new_host()
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    bad.connect("\0" + forkserver.server_address())
    bad.send(json.dumps({"op": "nonsense"}).encode())
    assert bad.recv(4096) == b""  # dropped
    bad.close()
    assert new_host().fingerprint == host.fingerprint


def test_an_exit_report_is_read_even_when_our_kill_crossed_the_servers_close() -> None:
    # The host dies (SIGTERM), its worker sends "kill" as the server reports the exit and
    # closes the connection with that "kill" unread: the kernel then fails the worker's
    # first read with ECONNRESET while the report still waits behind it.
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no longer alive, like a reaped host's
    server, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    host = forkserver.ForkedHost(client, gone.pid)
    host.kill_group()  # left unread by the "server"
    server.send(json.dumps({"exit": -15}).encode())
    server.close()
    assert host.wait(timeout=5) == -15
    assert not host.alive()
