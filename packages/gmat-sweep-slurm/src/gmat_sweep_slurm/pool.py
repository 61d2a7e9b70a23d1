"""SlurmPool: gmat-sweep on Slurm, inside the current allocation or as elastic Slurm jobs.

Two modes, chosen from the environment (``mode="auto"``):

- ``"allocation"`` -- ``SLURM_JOB_ID`` is set (the driver runs inside ``sbatch`` or
  ``salloc``): a Dask scheduler starts in the driver and Dask workers are launched on
  the allocation's own nodes with one ``srun`` step; no new job is submitted.
- ``"jobs"`` -- outside an allocation with ``sbatch`` on PATH: a
  ``dask_jobqueue.SLURMCluster`` submits worker jobs, elastic between ``minimum`` and
  ``maximum`` workers (or a fixed ``n_workers``).

Neither: :class:`SlurmNotFoundError`. Transport is :class:`gmat_sweep_dask.DaskPool`'s.

Both modes speak TLS (mutual, with certificates) by default: the scheduler listens on a
cluster network that other users of the cluster can reach, and a Dask scheduler runs the
code it is sent. The pool makes throwaway certificates for itself (see
:mod:`gmat_sweep_slurm.tls` for how they reach the workers) unless given ``security=``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from gmat_sweep import reaper
from gmat_sweep.errors import BackendError
from gmat_sweep.reaper import make_private_directory
from gmat_sweep_dask.pool import DaskPool
from gmat_sweep_slurm.sizing import Sizing, parse_memory, resolve_sizing
from gmat_sweep_slurm.tls import pool_security, security_on_disk, worker_tls_environment

__all__ = ["SlurmNotFoundError", "SlurmPool", "choose_mode"]

Mode = Literal["auto", "allocation", "jobs"]


class SlurmNotFoundError(BackendError):
    """Neither an allocation (``SLURM_JOB_ID``) nor ``sbatch`` was found."""


# What sbatch exports from the job's own request and srun reads back as its options: a
# job written "--ntasks=1 --cpus-per-task=4" would make the worker step one task of 4 CPUs
# whatever the step asks for (srun lets SLURM_NTASKS win over --ntasks-per-node).
_JOB_REQUEST_VARIABLES = (
    "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_NTASKS_PER_NODE", "SLURM_CPUS_PER_TASK",
    "SLURM_TRES_PER_TASK", "SLURM_MEM_PER_CPU", "SLURM_MEM_PER_GPU", "SLURM_MEM_PER_NODE",
)  # fmt: skip


# Jobs mode: each worker job's Dask local directory is a folder of its own in the node's
# temp dir, removed when the job's shell exits (scancel included: bash runs its EXIT trap
# on SIGTERM). Dask's default would leave dask-scratch-space and its lock files behind.
_JOB_DIRECTORY = "$GMAT_SWEEP_JOB_DIR"
_JOB_DIRECTORY_LINES = (
    'GMAT_SWEEP_JOB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/gmat-sweep-slurm-job-XXXXXX")"',
    "trap 'rm -rf \"$GMAT_SWEEP_JOB_DIR\"' EXIT",
)


def srun_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the job's own task layout, so the worker step's options hold."""
    return {key: value for key, value in env.items() if key not in _JOB_REQUEST_VARIABLES}


def choose_mode(
    env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which
) -> str:
    """``"allocation"`` inside a Slurm job, ``"jobs"`` where ``sbatch`` exists.

    Raises:
        SlurmNotFoundError: neither, with what to do instead.
    """
    env = os.environ if env is None else env
    if env.get("SLURM_JOB_ID"):
        return "allocation"
    if which("sbatch") is not None:
        return "jobs"
    raise SlurmNotFoundError(
        "Slurm was not found: SLURM_JOB_ID is not set (not inside an allocation) and sbatch is "
        "not on PATH. Run the driver inside an allocation (sbatch driver.sh), on a login node "
        "with Slurm's client tools, or choose another backend (backend='local' or 'dask')."
    )


def _interface_ip(interface: str | None) -> str:
    from distributed.utils import get_ip, get_ip_interface

    return str(get_ip_interface(interface)) if interface else str(get_ip())  # type: ignore[no-untyped-call]


def _every_loss_visible() -> Any:
    """Scheduler config: a worker lost mid-run fails its task (KilledWorker) at once, so
    gmat-sweep records the attempt as lost and resubmits it, instead of Dask rerunning it
    silently (``allowed-failures``, 3 by default)."""
    import dask

    return dask.config.set({"distributed.scheduler.allowed-failures": 0})


class SlurmPool(DaskPool):
    """Run a sweep on Slurm; see the module docstring for the two modes.

    Args:
        mode: ``"auto"`` (default), ``"allocation"`` or ``"jobs"``.
        workers_per_node, threads_per_worker, memory_per_worker: worker sizing (see
            :mod:`gmat_sweep_slurm.sizing`); in jobs mode, per worker job.
        n_workers: jobs mode: a fixed number of worker jobs (instead of adapting).
        minimum, maximum: jobs mode: adapt between these numbers of worker jobs
            (default 1 to 8 when ``n_workers`` is not given).
        partition, account, walltime: jobs mode: ``#SBATCH -p/-A/-t`` of worker jobs.
        prologue: jobs mode: shell lines run before the worker (``module load gmat``,
            ``export GMAT_ROOT=...``). After them each job makes its Dask local
            directory in ``$TMPDIR``, removed when the job ends (unless Dask's
            ``jobqueue.slurm.local-directory`` is set).
        sbatch_directives: jobs mode: extra ``#SBATCH`` options (``"--qos=long"``).
        interface: network interface the scheduler and workers use (``"ib0"``,
            ``"lo"``); default: this host's address.
        log_directory: jobs mode: where worker jobs write their Slurm output (default:
            Slurm's, ``slurm-<jobid>.out`` in the driver's working directory).
        python: Python the workers run (default: this one).
        security: TLS between the driver, the scheduler and the workers. ``None``
            (default) or ``True``: throwaway certificates made for this pool; ``False``:
            plain TCP (only on a network no one else can reach); a
            ``distributed.Security`` or the mapping of its arguments: your site's
            certificates (give every ``tls_*`` field; its files must be readable on the
            worker nodes at the same paths).
        shared_temp_directory: jobs mode: where throwaway certificates are written for
            the worker jobs to read (a private folder, mode 0700, removed at close); it
            must be on a filesystem the compute nodes see. Default: ``log_directory`` if
            given, else the driver's working directory.
        reuse_gmat_context: keep each worker thread's GMAT process between runs.

    Raises:
        SlurmNotFoundError: ``mode="auto"`` with neither an allocation nor ``sbatch``.
        ValueError: an unknown mode, both ``n_workers`` and ``minimum``/``maximum``, or
            a ``security`` that is not True, False, a Security or its arguments.
    """

    name = "slurm"
    description = "Slurm: Dask workers in this allocation (srun) or as elastic Slurm jobs."

    def __init__(
        self,
        *,
        mode: Mode = "auto",
        workers_per_node: int | None = None,
        threads_per_worker: int | None = None,
        memory_per_worker: str | int | None = "auto",
        n_workers: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
        partition: str | None = None,
        account: str | None = None,
        walltime: str = "01:00:00",
        prologue: Sequence[str] = (),
        sbatch_directives: Sequence[str] = (),
        interface: str | None = None,
        log_directory: str | None = None,
        python: str | None = None,
        security: Any = None,
        shared_temp_directory: str | None = None,
        reuse_gmat_context: bool = True,
    ) -> None:
        if mode not in ("auto", "allocation", "jobs"):
            raise ValueError(f"SlurmPool mode must be 'auto', 'allocation' or 'jobs', got {mode!r}")
        self.mode = choose_mode() if mode == "auto" else mode
        reaper.ensure_started()  # the srun step and scheduler must not outlive the driver
        self._srun: subprocess.Popen[bytes] | None = None
        self._srun_log: Path | None = None
        self._private: list[Path] = []  # removed at close (and by the watchdog if killed)
        self._elastic_threads = 0
        python = python or sys.executable
        tls = pool_security(security)
        if self.mode == "allocation":
            cluster, details = self._start_in_allocation(
                workers_per_node, threads_per_worker, memory_per_worker, interface, python, tls
            )
        else:
            if tls is not None:
                shared = Path(shared_temp_directory or log_directory or os.getcwd())
                shared.mkdir(parents=True, exist_ok=True)
                folder = make_private_directory(".gmat-sweep-tls-", shared)
                self._private.append(folder)
                tls = security_on_disk(tls, folder)
            cluster, details = self._start_jobs(
                workers_per_node, threads_per_worker, memory_per_worker, n_workers, minimum,
                maximum, partition, account, walltime, prologue, sbatch_directives, interface,
                log_directory, python, tls,
            )  # fmt: skip
        from distributed import Client

        client = Client(cluster, security=tls)  # type: ignore[no-untyped-call]
        super().__init__(client=client, reuse_gmat_context=reuse_gmat_context)
        self._owns_client = True
        self._cluster = cluster
        self._where = {"mode": self.mode, **details}
        print(f"gmat-sweep: {details['describe']}", file=sys.stderr, flush=True)

    @classmethod
    def auto(cls, **overrides: Any) -> SlurmPool:
        """The pool for wherever this runs: inside an allocation or submitting jobs."""
        return cls(mode="auto", **overrides)

    # -- allocation mode ---------------------------------------------------------------

    def _start_in_allocation(
        self,
        workers_per_node: int | None,
        threads_per_worker: int | None,
        memory_per_worker: str | int | None,
        interface: str | None,
        python: str,
        tls: Any,
    ) -> tuple[Any, dict[str, Any]]:
        from distributed import LocalCluster

        sizing = resolve_sizing(
            workers_per_node=workers_per_node,
            threads_per_worker=threads_per_worker,
            memory_per_worker=memory_per_worker,
        )
        host = _interface_ip(interface)
        workdir = make_private_directory("gmat-sweep-slurm-")
        self._private.append(workdir)
        with _every_loss_visible():
            scheduler = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=0, host=host, dashboard_address=f"{host}:0", processes=True,
                local_directory=str(workdir), security=tls,
                scheduler_kwargs={"local_directory": str(workdir)},
                **({"protocol": "tls://"} if tls is not None else {}),
            )  # fmt: skip
        self._srun_log = workdir / "srun.log"
        # srun runs no shell, so each task's name is made by a small sh: "slurm-<rank>".
        command = [
            "srun", "--overlap", "--kill-on-bad-exit=0",
            f"--nodes={sizing.nodes}", f"--ntasks={sizing.workers}",
            f"--ntasks-per-node={sizing.workers_per_node}",
            f"--cpus-per-task={sizing.threads_per_worker}", "--mem=0",
            "/bin/sh", "-c", 'exec "$@" --name "slurm-$SLURM_PROCID"', "sh",
            python, "-m", "distributed.cli.dask_worker", scheduler.scheduler_address,
            "--nthreads", str(sizing.threads_per_worker),
            "--memory-limit", str(sizing.memory_per_worker), "--no-nanny",
            "--death-timeout", "60",
        ]  # fmt: skip
        if interface:
            command += ["--interface", interface]
        command += ["--dashboard-address", f"{host}:0"]
        with open(self._srun_log, "wb") as log:
            self._srun = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Certificates travel in the step's environment, never on its command line.
                env={**srun_environment(os.environ), **worker_tls_environment(tls)},
            )
        self._elastic_threads = sizing.workers * sizing.threads_per_worker
        details = {
            "job_id": os.environ.get("SLURM_JOB_ID"),
            "sizing": sizing.to_json(),
            "describe": sizing.describe(),
            "srun": shlex.join(command),
        }
        return scheduler, details

    # -- jobs mode -----------------------------------------------------------------------

    def _start_jobs(
        self,
        workers_per_node: int | None,
        threads_per_worker: int | None,
        memory_per_worker: str | int | None,
        n_workers: int | None,
        minimum: int | None,
        maximum: int | None,
        partition: str | None,
        account: str | None,
        walltime: str,
        prologue: Sequence[str],
        sbatch_directives: Sequence[str],
        interface: str | None,
        log_directory: str | None,
        python: str,
        tls: Any,
    ) -> tuple[Any, dict[str, Any]]:
        import dask
        from dask_jobqueue.slurm import SLURMCluster

        threads = threads_per_worker or 1
        per_job = workers_per_node or 1
        memory = (
            2 * 2**30
            if memory_per_worker in (None, "auto")
            else parse_memory(memory_per_worker, "memory_per_worker")
        )
        if n_workers is not None and (minimum is not None or maximum is not None):
            raise ValueError("SlurmPool: give n_workers (fixed) or minimum/maximum (adapt)")
        host = _interface_ip(interface) if interface else None
        dashboard = f"{host}:0" if host else ":0"
        own_dir = dask.config.get("jobqueue.slurm.local-directory", None) is None
        # The scheduler runs here, in the driver: its working files in a folder of this
        # pool's own (Dask's default is a shared /tmp/dask-scratch-space, left behind).
        scheduler_dir = make_private_directory("gmat-sweep-slurm-")
        self._private.append(scheduler_dir)
        with _every_loss_visible():
            cluster = SLURMCluster(
                cores=threads * per_job,
                processes=per_job,
                memory=f"{memory * per_job}B",
                queue=partition,
                account=account,
                walltime=walltime,
                job_script_prologue=[*prologue, *_JOB_DIRECTORY_LINES] if own_dir else [*prologue],
                local_directory=_JOB_DIRECTORY if own_dir else None,
                job_extra_directives=list(sbatch_directives),
                interface=interface,
                python=python,
                log_directory=log_directory,
                scheduler_options={
                    "dashboard_address": dashboard,
                    "local_directory": str(scheduler_dir),
                },
                worker_extra_args=["--dashboard-address", dashboard],
                security=tls,
            )
        sizing = Sizing(
            nodes=0, cpus_per_node=threads * per_job, memory_per_node=memory * per_job,
            headroom_frac=0.0, workers_per_node=per_job, threads_per_worker=threads,
            memory_per_worker=memory,
        )  # fmt: skip
        if n_workers is not None:
            cluster.scale(jobs=n_workers)  # type: ignore[no-untyped-call]
            scaling = f"{n_workers} worker job(s)"
        else:
            low, high = (1 if minimum is None else minimum), (8 if maximum is None else maximum)
            if not 0 <= low <= high or high < 1:
                raise ValueError(
                    f"SlurmPool: need 0 <= minimum <= maximum, >= 1; got {low}, {high}"
                )
            cluster.adapt(minimum_jobs=low, maximum_jobs=high)
            # Keep enough runs queued for the scheduler to ask for more jobs.
            self._elastic_threads = high * per_job * threads
            scaling = f"adapting between {low} and {high} worker job(s)"
        describe = (
            f"Slurm jobs: {scaling}, each {per_job} worker(s) x {threads} thread(s), "
            f"{memory / 2**30:.2f} GiB per worker, partition {partition or '(default)'}"
        )
        details = {
            "sizing": sizing.to_json(),
            "describe": describe,
            "partition": partition,
            "walltime": walltime,
            "scaling": scaling,
        }
        return cluster, details

    # -- the pool ------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Worker threads now, and at least what the pool was sized for.

        In allocation mode that is every worker of the ``srun`` step, joined or not; in
        jobs mode the maximum the cluster may adapt to. Work for the missing workers
        queues in the scheduler, so each one starts running the moment it joins.

        Raises:
            BackendError: the ``srun`` step of allocation mode ended before any worker
                joined (the message quotes its output).
        """
        now = super().capacity
        srun_ended = self._srun is not None and self._srun.poll() is not None
        if srun_ended and not self._client.nthreads():
            assert self._srun is not None
            output = self._srun_log.read_text()[-2000:] if self._srun_log else ""
            raise BackendError(
                f"srun could not start Dask workers in this allocation (exit "
                f"{self._srun.returncode}):\n{output}"
            )
        return max(now, self._elastic_threads)

    def options(self) -> Mapping[str, Any]:
        options = dict(super().options())
        options.pop("describe", None)
        return options

    def close(self) -> None:
        """Stop the workers (cancel worker jobs, end the srun step) and the scheduler."""
        try:
            super().close()
        finally:
            if self._srun is not None and self._srun.poll() is None:
                self._srun.terminate()
                try:
                    self._srun.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._srun.kill()
                    self._srun.wait(timeout=10)
            for folder in self._private:
                shutil.rmtree(folder, ignore_errors=True)
