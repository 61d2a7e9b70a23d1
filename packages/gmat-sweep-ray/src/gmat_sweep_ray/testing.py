"""Real Ray for tests, kept on loopback.

Ray probes cloud metadata and telemetry hosts unless told not to. :func:`loopback_env`
returns the settings that stopped every such attempt on the machines gmat-sweep is
tested on: usage stats off and reported to a dead loopback port, a HOME holding an
empty ``ray_bootstrap_config.yaml`` (metadata probes are skipped only when it exists),
token auth mode set explicitly, and a private short RAY_TMPDIR. Runtimes started
through :func:`local_runtime_kwargs` and :class:`RayHead` use node IP 127.0.0.2 (Ray
rewrites 127.0.0.1 to the external address) and keep dashboards on 127.0.0.1.
Used by gmat-sweep-ray's tests and the cross-backend integration suite.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gmat_sweep.processes import pid_alive

__all__ = ["RayHead", "applied_env", "local_runtime_kwargs", "loopback_env"]

_RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def loopback_env(home: Path) -> dict[str, str]:
    """Environment for Ray processes that must talk to loopback only (creates ``home``)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")
    # Short: Ray's unix socket paths under RAY_TMPDIR must fit in 107 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    # When this process ends: whatever Ray process still uses it is stopped, then it is
    # removed (runtimes of drivers the tests killed cannot stop themselves).
    atexit.register(_remove_runtime_dir, tmp)
    return {
        "HOME": str(home),
        "RAY_TMPDIR": str(tmp),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
        "RAY_AUTH_MODE": "disabled",
    }


@contextlib.contextmanager
def applied_env(settings: Mapping[str, str]) -> Iterator[None]:
    """Set ``settings`` in os.environ (and unset RAY_ADDRESS); restore on exit."""
    keys = [*settings, "RAY_ADDRESS"]
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(settings)
    os.environ.pop("RAY_ADDRESS", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def processes_naming(*texts: str) -> list[int]:
    """PIDs of the processes whose command line contains one of ``texts``, and their
    descendants (this process and its ancestors excepted). Read from ``/proc``, whole
    (``ps`` may cut long command lines to the terminal's width)."""
    parent: dict[int, int] = {}
    mine: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text(errors="replace")
        except OSError:  # gone meanwhile
            continue
        pid = int(entry.name)
        parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        if any(text in command for text in texts):
            mine.add(pid)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                grew = True
    ancestor = os.getpid()
    while ancestor > 1:
        mine.discard(ancestor)
        ancestor = parent.get(ancestor, 1)
    return sorted(mine)


def stop_processes_naming(*texts: str, grace_s: float = 10.0) -> None:
    """SIGTERM :func:`processes_naming` ``texts``, SIGKILL what is left after ``grace_s``.

    Raises:
        RuntimeError: some are still alive afterwards.
    """
    doomed = processes_naming(*texts)
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in doomed):
        time.sleep(0.2)
    for pid in doomed + processes_naming(*texts):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    left = [pid for pid in processes_naming(*texts) if pid_alive(pid)]
    if left:
        raise RuntimeError(f"processes naming {' or '.join(texts)} survived: {left}")


def _remove_runtime_dir(tmp: Path) -> None:
    """At exit: stop any Ray process still using ``tmp`` (a runtime whose driver was killed,
    or whose shutdown left processes behind), then remove the folder."""
    with contextlib.suppress(Exception):
        stop_processes_naming(str(tmp))
    shutil.rmtree(tmp, ignore_errors=True)


def local_runtime_kwargs() -> dict[str, Any]:
    """``RayPool``/``ray.init`` options for a small private runtime on this machine."""
    return {"num_cpus": 2, "object_store_memory": 256 * 2**20}


class RayHead:
    """``ray start --head`` on 127.0.0.2, as a user starts a cluster's head node."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = {**os.environ, **env}
        self.port = _free_port()
        self.client_port = _free_port()
        # The Ray Client proxy reaches the runtime-env agent by port; a fixed one is needed.
        self.agent_port = _free_port()
        self.log = workdir / "ray-head.log"
        done = subprocess.run(
            [_RAY, "start", "--head", f"--port={self.port}", "--num-cpus=2",
             "--node-ip-address=127.0.0.2", "--dashboard-host=127.0.0.1", "--dashboard-port=0",
             f"--ray-client-server-port={self.client_port}",
             f"--runtime-env-agent-port={self.agent_port}",
             "--object-store-memory=268435456", "--disable-usage-stats"],
            env=self.env, capture_output=True, text=True, timeout=120, start_new_session=True,
        )  # fmt: skip
        self.log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            with contextlib.suppress(RuntimeError):
                self.stop()  # whatever of it did start
            raise RuntimeError(f"ray start --head failed; see {self.log}")
        self.address = f"127.0.0.2:{self.port}"
        self._client_ready = False

    def client_address(self) -> str:
        """``ray://`` address of this head's Ray Client server, proven to accept a driver.

        On a fresh head, Ray 2.60's proxy sometimes fails to start the per-client server
        for the first connection (it exits with empty logs and the driver gets
        ``ConnectionAbortedError: Starting Ray client server failed`` after 30-40 s;
        seen on about a third of fresh heads on a 2-core machine, never on a later
        connection). The first call connects once from a separate process, up to three
        times, so that the tests exercise gmat-sweep through the client, not that start.

        Raises:
            RuntimeError: no connection succeeded.
        """
        address = f"ray://127.0.0.2:{self.client_port}"
        if self._client_ready:
            return address
        probe = f"import ray; ray.init({address!r}); ray.shutdown()"
        errors = []
        for _ in range(3):
            try:
                done = subprocess.run(
                    [sys.executable, "-c", probe], env=self.env, capture_output=True,
                    text=True, timeout=120,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                errors.append("timed out after 120 s")
                continue
            if done.returncode == 0:
                self._client_ready = True
                return address
            errors.append(done.stderr[-500:])
        raise RuntimeError(f"no Ray Client connection to {address}: {errors}")

    def worker_pids(self) -> list[int]:
        """PIDs of this head's Ray task worker processes running a gmat-sweep batch
        (``ray::_run`` titles), never those of another Ray on this machine."""
        pids = []
        for pid in processes_naming(self._gcs_address_text, f"--gcs_server_port={self.port}"):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::_run"):
                    pids.append(pid)
        return pids

    def stop(self) -> None:
        """Stop this head's processes only (``ray stop`` would stop every Ray here).

        Its processes name its GCS port on their command line (``gcs_server`` as
        ``--gcs_server_port=<port>``, the raylet, dashboard, monitors and the Ray Client
        server as ``127.0.0.2:<port>``); the agents, dashboard modules and task workers are
        their descendants. Another head, or a private runtime, sharing this head's
        ``RAY_TMPDIR`` is left running.

        Raises:
            RuntimeError: some of them are still alive afterwards.
        """
        stop_processes_naming(self._gcs_address_text, f"--gcs_server_port={self.port}")

    @property
    def _gcs_address_text(self) -> str:
        return f"127.0.0.2:{self.port}"
