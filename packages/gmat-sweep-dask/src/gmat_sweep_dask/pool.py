"""DaskPool: gmat-sweep runs as Dask tasks, on a LocalCluster or any distributed cluster.

Each batch of runs (sized by core) is one task calling
:func:`gmat_sweep.worker.execute_batch` on a worker, which runs GMAT in its own host
process in node-local scratch and returns the RunOutcomes, each with its run's parsed
outputs as Arrow IPC bytes (workers need not see ``out``; the driver writes the
dataset). Core keeps about two batches per worker thread submitted, and Dask's
scheduler decides which worker takes each.

Lost runs: when a worker dies mid-batch, the scheduler either reschedules the task
elsewhere (its ``distributed.scheduler.allowed-failures`` budget, 3 by default; the
batch then finishes as one attempt) or fails it with ``KilledWorker``, which gmat-sweep
records as a ``lost`` attempt of each of its runs and resubmits. The LocalCluster this
pool starts uses ``allowed-failures: 0`` so every loss is visible in the manifest; set
the same on your own scheduler for that behaviour there.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from gmat_sweep.pools.base import Pool
from gmat_sweep.reaper import make_private_directory
from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = ["DaskPool"]

# Re-read the cluster's size at most this often (one scheduler round trip).
_CAPACITY_TTL_S = 0.5


def _run_batch(specs: list[RunSpec], reuse_gmat_context: bool) -> list[RunOutcome]:
    from gmat_sweep.worker import execute_batch

    return execute_batch(specs, reuse_gmat_context=reuse_gmat_context)


class DaskPool(Pool):
    """Run each batch of sweep runs as a Dask task.

    Args:
        client: an existing ``distributed.Client``; used as is and never closed.
        address: a scheduler address (``"tcp://host:8786"``); the pool opens a
            Client to it and closes only that Client.
        n_workers: workers of the LocalCluster started when neither ``client`` nor
            ``address`` is given (default: this machine's cores over
            ``threads_per_worker``). Its workers are threads of this process, each
            thread's GMAT in a host process of its own; ``processes=True`` (a
            ``cluster_kwargs``) makes them processes.
        threads_per_worker: threads per LocalCluster worker (default 1: GMAT runs
            single-threaded, and each thread gets its own GMAT process).
        security: TLS (mutual, with certificates) between this driver, the scheduler and
            the workers. For the LocalCluster the pool starts: ``None`` (default) gives
            threads no port at all (Dask's in-process transport, ``inproc://``) and
            worker processes throwaway certificates made for the cluster (any user of
            this machine can reach a loopback port, and a Dask scheduler runs the code
            it is sent); ``True`` is TLS with such certificates for threads too;
            ``False`` is plain TCP. For a cluster at ``address``: ``None`` follows
            Dask's configuration (``distributed.comm.tls.*``, e.g. from
            ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``); or give a
            ``distributed.Security`` or the mapping of its arguments (``{"tls_ca_file":
            ..., "tls_client_cert": ..., "tls_client_key": ..., "require_encryption":
            True}``, also as JSON from ``--backend-opt security=...``).
        reuse_gmat_context: keep each worker thread's GMAT process between runs.
        **cluster_kwargs: passed to ``distributed.LocalCluster``. Its working files
            (``local_directory``) go to a private folder removed at close, or by the
            driver's watchdog if the driver is killed, unless you give one.

    Raises:
        ValueError: both ``client`` and ``address``, ``n_workers`` below 1, cluster
            options together with an existing cluster, ``security=True`` for a cluster
            at an address (its certificates are the cluster's), or a ``security`` of
            another type.
    """

    name = "dask"
    description = "Dask distributed: a LocalCluster here, or any cluster by address or Client."

    def __init__(
        self,
        *,
        client: Any = None,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        security: Any = None,
        reuse_gmat_context: bool = True,
        **cluster_kwargs: Any,
    ) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)
        if client is not None and address is not None:
            raise ValueError("DaskPool: give either client= or address=, not both")
        if (client is not None or address is not None) and (
            cluster_kwargs or n_workers is not None
        ):
            given = ", ".join(
                sorted([*cluster_kwargs, *(["n_workers"] if n_workers is not None else [])])
            )
            raise ValueError(
                f"DaskPool: {given} configure the LocalCluster the pool starts; they do not "
                "apply to an existing cluster (client= or address=). Size that cluster itself."
            )
        if n_workers is not None and (
            isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1
        ):
            raise ValueError(
                f"DaskPool: n_workers must be a whole number of workers >= 1, got "
                f"{n_workers!r} (a LocalCluster without workers would never run a run); "
                "leave it out for one worker per core"
            )
        if threads_per_worker < 1:
            raise ValueError(f"DaskPool: threads_per_worker must be >= 1, got {threads_per_worker}")
        from distributed import Client

        self._cluster: Any = None
        self._workdir: Path | None = None
        self._owns_client = client is None
        self._closed = False
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._capacity = 1
        self._capacity_at = float("-inf")
        if client is not None:
            if security is not None:
                raise ValueError("DaskPool: security= applies to the Client the pool opens; "
                                 "a client= passed in already has its own")  # fmt: skip
            self._client = client
            self._where: dict[str, Any] = {"scheduler": str(client.scheduler.address)}
        elif address is not None:
            self._client = Client(  # type: ignore[no-untyped-call]
                address, security=_address_security(security, address)
            )
            self._where = {"scheduler": address}
        else:
            if _in_process(security, cluster_kwargs):
                _name_in_process_addresses_on_loopback()
                cluster_kwargs["protocol"] = "inproc://"
            else:
                cluster_kwargs.setdefault("security", _local_security(security))
            if "local_directory" not in cluster_kwargs:
                # The cluster's working files in a folder of this pool's own, removed at
                # close, or by the watchdog if the driver is killed.
                self._workdir = make_private_directory("gmat-sweep-dask-")
                cluster_kwargs["local_directory"] = str(self._workdir)
                scheduler = {"local_directory": str(self._workdir)}
                cluster_kwargs["scheduler_kwargs"] = {
                    **scheduler,
                    **cluster_kwargs.get("scheduler_kwargs", {}),
                }
            try:
                self._cluster = _start_local_cluster(n_workers, threads_per_worker, cluster_kwargs)
            except BaseException:
                if self._workdir is not None:
                    shutil.rmtree(self._workdir, ignore_errors=True)
                raise
            self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            self._where = {
                "cluster": "LocalCluster",
                "n_workers": len(self._cluster.workers),
                "threads_per_worker": threads_per_worker,
                "processes": bool(cluster_kwargs.get("processes", False)),
                "protocol": str(self._cluster.scheduler_address).split("://")[0],
            }
        # Read now: a closed Client no longer knows its scheduler.
        self._tls = str(self._client.scheduler.address).startswith("tls://")

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` the pool submits through."""
        return self._client

    @property
    def cluster(self) -> Any:
        """The LocalCluster the pool started, or None when it uses an existing cluster."""
        return self._cluster

    @property
    def capacity(self) -> int:
        """Worker threads in the cluster now (re-read at most every 0.5 s); at least 1."""
        now = time.monotonic()
        if now - self._capacity_at > _CAPACITY_TTL_S:
            # A scheduler briefly unreachable keeps the last known size.
            with contextlib.suppress(Exception):
                self._capacity = max(1, sum(self._client.nthreads().values()))
            self._capacity_at = now
        return self._capacity

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if self._closed:
            raise RuntimeError("this DaskPool is closed")
        first = specs[0]
        key = f"gmat-sweep-runs-{first.run_id}-{first.attempt}-{uuid.uuid4().hex[:12]}"
        relay: Future[list[RunOutcome]] = Future()
        relay.set_running_or_notify_cancel()
        task = self._client.submit(
            _run_batch, list(specs), self.reuse_gmat_context, key=key, pure=False
        )
        with self._lock:
            self._tasks[key] = task
        task.add_done_callback(lambda done: self._relay(key, done, relay))
        return relay

    def _relay(self, key: str, task: Any, relay: Future[list[RunOutcome]]) -> None:
        """Copy a finished Dask future into the concurrent future the orchestrator holds."""
        with self._lock:
            self._tasks.pop(key, None)
        try:
            if task.status == "finished":
                relay.set_result(task.result())
            elif task.status == "cancelled":
                relay.set_exception(RuntimeError(f"Dask cancelled task {key}"))
            else:
                error = task.exception()
                relay.set_exception(
                    error if isinstance(error, BaseException) else RuntimeError(str(error))
                )
        except BaseException as exc:  # never leave the relay pending
            if not relay.done():
                relay.set_exception(exc)

    def options(self) -> Mapping[str, Any]:
        return {**super().options(), **self._where, "tls": self._tls}

    def close(self) -> None:
        """Cancel this pool's unfinished tasks; close the Client and cluster it created."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            tasks = list(self._tasks.values())
            self._tasks.clear()
        try:
            if tasks:
                self._client.cancel(tasks)
        finally:
            if self._owns_client:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"DaskPool({', '.join(f'{k}={v!r}' for k, v in self._where.items())})"


def _in_process(security: Any, cluster_kwargs: Mapping[str, Any]) -> bool:
    """Whether the LocalCluster the pool starts talks in-process (``inproc://``): its
    workers are threads (the default), and neither ``security`` nor a ``protocol`` or
    ``host`` says otherwise. No Dask port is then opened (only the HTTP status pages
    listen, as with TLS), so no other process can reach the scheduler, and nothing is
    encrypted or sent through sockets: the cluster starts 0.1-0.2 s sooner than with
    TLS (measured on two cores)."""
    if security is not None or cluster_kwargs.get("processes", False):
        return False
    return "protocol" not in cluster_kwargs and "host" not in cluster_kwargs


def _name_in_process_addresses_on_loopback() -> None:
    """Dask names in-process addresses after this machine's route to the Internet (a
    UDP connect to 8.8.8.8, ``distributed.utils.get_ip``); the name is only a label, and
    this driver must not look anywhere but loopback. Where that private attribute has
    moved in a later Dask, this changes nothing and Dask looks itself."""
    from distributed.comm import inproc

    manager = getattr(inproc, "global_manager", None)
    if manager is not None and hasattr(manager, "_ip") and not manager._ip:
        manager._ip = "127.0.0.1"


def _local_security(security: Any) -> Any:
    """``security=`` for the private LocalCluster: TLS with throwaway certificates unless
    ``False``; a Security or its arguments as given."""
    if security is None or security is True:
        return True  # LocalCluster makes the certificates (Security.temporary)
    if security is False:
        return None
    return as_security(security)


def _address_security(security: Any, address: str) -> Any:
    if security is True:
        raise ValueError(
            "DaskPool: security=True makes throwaway certificates for a LocalCluster this "
            "pool starts; a cluster at an address has its own. Give its CA and a client "
            "certificate: security={'tls_ca_file': ..., 'tls_client_cert': ..., "
            "'tls_client_key': ..., 'require_encryption': True}, or a distributed.Security."
        )
    if security is None or security is False:
        import dask

        if address.startswith("tls://") and not dask.config.get("distributed.comm.tls.ca-file"):
            raise ValueError(
                f"the scheduler at {address} speaks TLS, and this driver has no certificate "
                "to show it. Give the cluster's CA and a client certificate signed by it: "
                "security={'tls_ca_file': CA, 'tls_client_cert': CERT, 'tls_client_key': "
                "KEY, 'require_encryption': True} (CLI: --backend-opt security='{...}' as "
                "JSON), or set Dask's distributed.comm.tls.ca-file and "
                "distributed.comm.tls.client.cert/key (DASK_DISTRIBUTED__COMM__TLS__CA_FILE...)"
            )
        return None  # Dask's configuration (distributed.comm.tls.*)
    return as_security(security)


def as_security(security: Any, owner: str = "DaskPool") -> Any:
    """``security`` as a ``distributed.Security``: one as is, or made from the mapping of
    its arguments.

    Raises:
        ValueError: a mapping Security does not accept, or another type (``owner`` names
            the pool in the message).
    """
    from distributed.security import Security

    if isinstance(security, Security):
        return security
    if isinstance(security, Mapping):
        try:
            return Security(**security)  # type: ignore[no-untyped-call]
        except TypeError as exc:
            raise ValueError(f"{owner}: security={dict(security)!r}: {exc}") from None
    raise ValueError(
        f"{owner}: security= takes True, False, a distributed.Security or the mapping of "
        f"its arguments, not {type(security).__name__}"
    )


def _start_local_cluster(
    n_workers: int | None, threads_per_worker: int, cluster_kwargs: dict[str, Any]
) -> Any:
    """A LocalCluster on loopback whose workers are threads of this process (unless
    ``processes=True`` is given), every loss visible as a KilledWorker.

    Threads, because a worker only relays: each worker thread's runs go to a GMAT host
    process of its own, as LocalPool's threads' do, so crash isolation and timeouts are
    the hosts'. Worker processes would add nannies and interpreters to start (0.5 s of
    wall and 1.35 CPU-s for two, measured), a second fork server, and re-import the
    driver's script.

    Raises:
        BackendError: with ``processes=True``, this process is a Dask worker still
            importing the user's script (the pool is made at module level), or the
            cluster failed to start from a script that may be doing that.
    """
    import dask
    from distributed import LocalCluster

    from gmat_sweep.errors import BackendError

    main = sys.modules.get("__main__")
    if getattr(main, "__name__", "") == "__mp_main__":
        # A spawned worker re-imports the driver's script: making a pool here would start
        # a cluster inside every worker. Say so where the worker prints its error.
        raise BackendError(_MODULE_LEVEL_HINT)

    settings: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": threads_per_worker,
        "processes": False,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "worker_dashboard_address": "127.0.0.1:0",
    }
    settings.update(cluster_kwargs)
    if settings.get("protocol") == "inproc://" and "host" not in cluster_kwargs:
        settings["host"] = None  # an in-process address has no host to bind
    security = settings.get("security")  # True: LocalCluster makes throwaway certificates
    encrypted = security is True or getattr(security, "require_encryption", False)
    if "protocol" not in settings and not encrypted:
        # Threads without TLS would get Dask's inproc://, named after this host's route to
        # the Internet (distributed.utils.get_ip); plain loopback TCP instead.
        settings["protocol"] = "tcp://"
    if settings["n_workers"] is None:
        # Dask's own default for processes; with threads it would start a single worker.
        from dask.system import CPU_COUNT

        settings["n_workers"] = max(1, CPU_COUNT // threads_per_worker)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        try:
            return LocalCluster(**settings)  # type: ignore[no-untyped-call]
        except Exception as exc:
            script = getattr(main, "__file__", None)
            if script is None or not settings["processes"]:  # not a re-imported script
                raise
            raise BackendError(
                f"the pool's Dask LocalCluster did not start ({type(exc).__name__}: {exc}). "
                f"If {script} makes the pool (or calls sweep()) at module level, "
                + _MODULE_LEVEL_HINT
            ) from exc


_MODULE_LEVEL_HINT = (
    "With processes=True, Dask starts its worker processes by importing the driver's "
    "script again, so code "
    "that makes a DaskPool (or runs a sweep on backend='dask') at module level runs in "
    'every worker too. Put it under `if __name__ == "__main__":` in the script.'
)
