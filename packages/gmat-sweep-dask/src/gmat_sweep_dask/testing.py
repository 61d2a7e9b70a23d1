"""Real Dask clusters for tests: a ``dask scheduler`` and ``dask worker`` processes.

Started exactly as a user starts them on a cluster's nodes, on 127.0.0.1, each in its
own session so that :meth:`DaskCliCluster.close` stops whole process groups. Used by
gmat-sweep-dask's tests and the cross-backend integration suite; useful to anyone
testing a pool on a real Dask cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["DaskCliCluster", "write_test_certificates"]

_DASK = str(Path(sys.executable).parent / "dask")


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def write_test_certificates(directory: Path) -> dict[str, str | bool]:
    """Write a throwaway CA and one certificate signed by it (``ca.pem``, ``cert.pem``,
    ``key.pem``) into ``directory``; return the ``distributed.Security`` arguments of a
    client that presents it (the scheduler and workers use the same files)."""
    from distributed.security import Security

    made = Security.temporary()  # type: ignore[no-untyped-call]
    directory.mkdir(parents=True, exist_ok=True)
    files = {"ca.pem": made.tls_ca_file, "cert.pem": made.tls_client_cert,
             "key.pem": made.tls_client_key}  # fmt: skip
    for name, text in files.items():
        (directory / name).write_text(text)
        (directory / name).chmod(0o600)
    return {
        "tls_ca_file": str(directory / "ca.pem"),
        "tls_client_cert": str(directory / "cert.pem"),
        "tls_client_key": str(directory / "key.pem"),
        "require_encryption": True,
    }


class DaskCliCluster:
    """``dask scheduler`` + ``dask worker`` processes on loopback, with GMAT_ROOT set.

    ``tls``: a folder from :func:`write_test_certificates`; the scheduler then listens
    on ``tls://`` and requires that certificate of every worker and client.
    """

    def __init__(self, workdir: Path, gmat_root: Path, tls: Path | None = None) -> None:
        self.workdir = workdir
        self.tls_args: list[str] = []
        self.security: dict[str, str | bool] | None = None
        if tls is not None:
            self.tls_args = ["--tls-ca-file", str(tls / "ca.pem"), "--tls-cert",
                             str(tls / "cert.pem"), "--tls-key", str(tls / "key.pem")]  # fmt: skip
            self.security = {"tls_ca_file": str(tls / "ca.pem"),
                             "tls_client_cert": str(tls / "cert.pem"),
                             "tls_client_key": str(tls / "key.pem"),
                             "require_encryption": True}  # fmt: skip
        self.scheduler_file = workdir / "scheduler.json"
        self.env = {
            **os.environ,
            "GMAT_ROOT": str(gmat_root),
            # Every worker death becomes a KilledWorker, recorded by gmat-sweep as lost.
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        }
        self.workers: list[subprocess.Popen[bytes]] = []
        # The child writes its log through its own copy of the descriptor; ours is closed.
        with open(workdir / "scheduler.log", "wb") as log:
            self.scheduler = subprocess.Popen(
                [_DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
                 str(self.scheduler_file),
                 *(["--protocol", "tls", *self.tls_args] if tls is not None else [])],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                # Written whole once the scheduler listens (read again while still partial).
                self.address: str = json.loads(self.scheduler_file.read_text())["address"]
                break
            except (FileNotFoundError, ValueError, KeyError):
                pass
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                _stop(self.scheduler)  # not left running when it is too slow
                raise RuntimeError(f"dask scheduler did not start; see {workdir}/scheduler.log")
            time.sleep(0.1)

    def add_worker(
        self, *, nanny: bool = False, hide: Sequence[Path] = ()
    ) -> subprocess.Popen[bytes]:
        """Start one single-threaded worker (``--no-nanny``: killing it is final).

        ``hide``: folders the worker must not see, as on a node without the driver's
        filesystem: the worker runs in its own mount namespace (``unshare --mount``, which
        needs root or user namespaces) with an empty tmpfs over each.
        """
        n = len(self.workers)
        command = [
            _DASK, "worker", self.address, "--host", "127.0.0.1", "--name", f"w{n}",
            "--dashboard-address", "127.0.0.1:0", "--nthreads", "1", "--memory-limit", "1GiB",
            "--death-timeout", "30", "--nanny" if nanny else "--no-nanny", *self.tls_args,
        ]  # fmt: skip
        if hide:
            mounts = " && ".join(
                f"mount -t tmpfs gmat-sweep-hidden {shlex.quote(str(d))}" for d in hide
            )
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f'{mounts} && exec "$@"', "sh", *command]  # fmt: skip
        with open(self.workdir / f"worker-{n}.log", "wb") as log:
            worker = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int, timeout: float = 60.0) -> None:
        from distributed import Client
        from distributed.security import Security

        security = Security(**self.security) if self.security else None  # type: ignore[no-untyped-call]
        with Client(self.address, timeout=30, security=security) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(n, timeout=timeout)

    @classmethod
    @contextlib.contextmanager
    def started(
        cls, workdir: Path, gmat_root: Path, n_workers: int = 2, tls: Path | None = None
    ) -> Iterator[DaskCliCluster]:
        """A scheduler and ``n_workers`` workers, ready; everything stopped on exit."""
        cluster = cls(workdir, gmat_root, tls=tls)
        try:
            for _ in range(n_workers):
                cluster.add_worker()
            cluster.wait_for_workers(n_workers)
            yield cluster
        finally:
            cluster.close()

    def close(self) -> None:
        for worker in self.workers:
            _stop(worker)
        _stop(self.scheduler)
