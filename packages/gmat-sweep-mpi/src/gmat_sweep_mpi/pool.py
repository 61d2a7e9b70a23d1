"""MPIPool: gmat-sweep runs on MPI ranks through ``mpi4py.futures``.

Two ways to get workers, chosen by how the driver was started:

- **Launched** (the HPC way): ``mpirun -n K python -m mpi4py.futures driver.py`` (or
  ``srun -n K python -m mpi4py.futures driver.py``, ``mpiexec``...). Rank 0 runs the
  driver script; ranks 1..K-1 are the workers (``capacity`` = K - 1). ``workers=`` is
  refused: the launcher sized the job.
- **Spawned**: anywhere else (``python driver.py``, a notebook), the pool starts
  ``workers`` worker processes with MPI dynamic process management (``MPI_Comm_spawn``)
  and stops them at ``close()``.

Each batch of runs (sized by core) is one ``MPIPoolExecutor`` task calling
:func:`gmat_sweep.worker.execute_batch` on a worker rank, which runs GMAT in its own host
process in node-local scratch; the RunOutcomes come back to rank 0 over MPI, and the
driver writes the sweep's ``out`` (workers need not see it). Workers never import the
driver script (``main=False``), so it runs once, on rank 0, guarded or not.

What MPI can and cannot survive: a rank that dies (killed, out of memory, node lost)
normally ends the whole MPI job, the driver included (Open MPI and MPICH abort every
rank; Slurm's ``srun`` does the same unless told otherwise). Nothing hangs, and the
sweep's manifest keeps every run whose group was committed: ``gmat-sweep resume OUT``
runs the rest. Where a launcher keeps the job alive after a rank dies, that rank's
batch never completes; with a per-run ``timeout`` core records it ``lost`` after its
deadline and resubmits it to the ranks left.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, TimeoutError
from typing import Any

from gmat_sweep.errors import BackendError
from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = ["MPIPool"]

_LAUNCH_HINT = "mpirun -n K python -m mpi4py.futures driver.py"
#: Spawned mode: spawns tried within ``start_timeout`` before giving up.
SPAWN_ATTEMPTS = 2


def _run_batch(specs: list[RunSpec], reuse_gmat_context: bool) -> list[RunOutcome]:
    from gmat_sweep.worker import execute_batch

    return execute_batch(specs, reuse_gmat_context=reuse_gmat_context)


def _hello() -> int:
    return os.getpid()


# Where Open MPI keeps a job's session files (``ompi.<host>.<uid>/jf.<n>``): Open MPI 4
# reads the first, 5 (PRRTE) the second.
_SESSION_BASES = ("OMPI_MCA_orte_tmpdir_base", "PRTE_MCA_prte_tmpdir_base")
# Set by a launcher (mpirun, srun) in the processes it starts.
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE")


def _private_session_directory() -> None:
    """Before MPI starts in a driver no launcher started: Open MPI's session files go to
    a private folder, removed at exit, or by the watchdog if the driver is killed (MPI's
    own cleanup never runs then, and its ``ompi.*`` folder would stay in /tmp).

    Does nothing when MPI already runs here, under a launcher (its session is the
    launcher's), or when the user chose the place.
    """
    if "mpi4py.MPI" in sys.modules or any(
        name in os.environ for name in (*_SESSION_BASES, *_LAUNCHER_VARIABLES)
    ):
        return
    import atexit
    import shutil

    from gmat_sweep.reaper import make_private_directory

    folder = make_private_directory("gmat-sweep-mpi-")
    # Registered before MPI is imported, so it runs after mpi4py's MPI_Finalize at exit.
    atexit.register(shutil.rmtree, folder, True)
    for name in _SESSION_BASES:
        os.environ[name] = str(folder)


def _load_mpi() -> Any:
    _private_session_directory()
    # mpi4py's import hook for mpi4py.MPI imports ctypes from inside its find_spec, which
    # CPython 3.11 calls holding the global import lock: if another thread of the driver
    # is importing ctypes then (core imports pandas in the background), that thread waits
    # for the global lock and this one for ctypes' lock, for ever (seen in CI). Imported
    # here first, ctypes is already loaded when the hook asks for it.
    import ctypes  # noqa: F401

    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as exc:
        raise BackendError(
            f"MPIPool: mpi4py could not load an MPI library ({exc}). mpi4py needs MPI "
            "installed on this machine: on a cluster `module load openmpi` (or your site's "
            "MPI) before starting Python; on Debian/Ubuntu `apt-get install openmpi-bin`."
        ) from exc
    return MPI


def _launched_pool() -> bool:
    """True when this process runs under ``python -m mpi4py.futures`` (the shared pool)."""
    from mpi4py.futures import _core

    return getattr(_core, "SharedPool", None) is not None


class MPIPool(Pool):
    """Run each batch of sweep runs on an MPI worker rank.

    Args:
        workers: spawned mode only: how many worker processes to spawn (default:
            ``MPI4PY_FUTURES_MAX_WORKERS`` if set, else one per core of this machine).
        start_timeout: seconds to wait for the workers to answer before giving up
            (spawned mode: shared by up to ``SPAWN_ATTEMPTS`` spawns, a stuck one let go).
        reuse_gmat_context: keep each worker's GMAT process between runs.
        **executor_options: passed to ``mpi4py.futures.MPIPoolExecutor`` (``mpi_info``,
            ``python_exe``, ``env``...). ``env`` (variables set on the workers, e.g.
            ``{"GMAT_ROOT": ...}``) reaches launched ranks only from the first pool of
            the job, when mpi4py first contacts them; prefer giving the launcher the
            environment (``mpirun -x GMAT_ROOT``, ``srun --export=ALL``).

    ``close()`` waits for the batches already running on a rank (MPI cannot interrupt
    one; each run is bounded by the sweep's ``timeout``), cancels the queued ones, and
    in spawned mode stops the workers. In launched mode the ranks stay up for the next
    pool of the same job.

    Raises:
        BackendError: mpi4py cannot load an MPI library; the job was started as
            ``mpirun -n K python driver.py`` with K > 1 (every rank would run the
            driver); it was launched with a single rank (no worker); the workers did
            not answer within ``start_timeout``.
        ValueError: ``workers`` in launched mode, or not a whole number >= 1.
    """

    name = "mpi"
    description = (
        "MPI ranks (mpi4py.futures): mpirun/srun -n K python -m mpi4py.futures, or spawned workers."
    )

    def __init__(
        self,
        *,
        workers: int | None = None,
        start_timeout: float = 60.0,
        reuse_gmat_context: bool = True,
        **executor_options: Any,
    ) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(f"MPIPool: workers must be a whole number >= 1, got {workers!r}")
        mpi = _load_mpi()
        world = mpi.COMM_WORLD.Get_size()
        self._closed = False
        self._library = mpi.Get_library_version().replace("\x00", "").strip().splitlines()[0]
        if _launched_pool():
            if workers is not None:
                raise ValueError(
                    f"MPIPool: workers={workers} spawns workers, but this job was launched "
                    f"with {world} ranks by `python -m mpi4py.futures`: its {world - 1} "
                    "worker rank(s) are the pool. Size the job with the launcher's -n instead."
                )
            if world < 2:
                raise BackendError(
                    "MPIPool: this job has a single rank, so no rank is left to run GMAT. "
                    f"Launch at least two: {_LAUNCH_HINT} with K >= 2 (rank 0 drives)."
                )
            self._mode = "launched"
            max_workers = None
        else:
            if world > 1:
                raise BackendError(
                    f"MPIPool: this is rank {mpi.COMM_WORLD.Get_rank()} of {world} ranks that "
                    "all run the driver script (the job was started as `mpirun -n K python "
                    f"driver.py`). Start it as `{_LAUNCH_HINT}`: rank 0 then runs the "
                    "driver and the other ranks run GMAT."
                )
            self._mode = "spawned"
            max_workers = workers or _default_workers()
        executor_options.setdefault("main", False)
        self._workers = self._start_workers(max_workers, executor_options, start_timeout)

    def _start_workers(
        self, max_workers: int | None, options: dict[str, Any], timeout: float
    ) -> int:
        """Make the executor and wait for a worker's answer; the number of workers.

        Spawned mode spawns up to ``SPAWN_ATTEMPTS`` times, each given an equal share of
        ``timeout``: Open MPI 4.1's spawn hangs now and then by itself, and a spawn after
        a stuck one works (seen in this project's CI, and reproduced with workers that
        never start MPI). The stuck spawn is let go so the process can still exit.
        """
        from mpi4py.futures import MPIPoolExecutor

        attempts = SPAWN_ATTEMPTS if self._mode == "spawned" else 1
        wait = timeout / attempts
        for attempt in range(1, attempts + 1):
            self._executor = MPIPoolExecutor(max_workers=max_workers, **options)
            hello = self._executor.submit(_hello)
            try:
                hello.result(timeout=wait)
                return max(1, int(self._executor.num_workers))
            except TimeoutError:
                manager = _manager_thread(self._executor)
                self._executor.shutdown(wait=False, cancel_futures=True)
                if self._mode == "spawned" and manager is not None:
                    _let_exit_without(manager)
                if attempt < attempts:
                    warnings.warn(
                        f"MPIPool: the spawned MPI workers did not answer within {wait:g} s; "
                        "spawning them again (Open MPI's spawn hangs now and then by itself: "
                        "open-mpi/ompi#9713)",
                        stacklevel=4,
                    )
                    continue
                self._closed = True
                raise BackendError(
                    f"MPIPool: the {self._mode} MPI workers did not answer within {timeout:g} s"
                    + (f" ({attempts} spawns of {wait:g} s). " if attempts > 1 else ". ")
                    + (
                        "Spawning needs MPI dynamic process management and a transport between "
                        "separate MPI jobs: with Open MPI, OMPI_MCA_btl (if set) must include "
                        "tcp. Or launch the workers instead: " + _LAUNCH_HINT
                        if self._mode == "spawned"
                        else "Check the launcher's output for ranks that failed to start."
                    )
                ) from None
            except Exception as exc:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._closed = True
                raise BackendError(f"MPIPool: the MPI workers failed to start: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def capacity(self) -> int:
        """Worker ranks (launched: the job's ranks minus rank 0; spawned: ``workers``)."""
        return self._workers

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if self._closed:
            raise RuntimeError("this MPIPool is closed")
        future: Future[list[RunOutcome]] = self._executor.submit(
            _run_batch, list(specs), self.reuse_gmat_context
        )
        return future

    def options(self) -> Mapping[str, Any]:
        return {
            **super().options(),
            "mode": self._mode,
            "workers": self._workers,
            "mpi": self._library,
        }

    def close(self) -> None:
        """Cancel queued batches, wait for running ones; stop spawned workers. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return f"MPIPool(mode={self._mode!r}, workers={self._workers})"


def _manager_thread(executor: Any) -> threading.Thread | None:
    """The thread mpi4py spawns and feeds the workers from (None if its internals differ)."""
    thread = getattr(getattr(executor, "_pool", None), "thread", None)
    return thread if isinstance(thread, threading.Thread) else None


def _let_exit_without(manager: threading.Thread) -> None:
    """Let this process exit although ``manager`` is stuck in ``MPI_Comm_spawn``.

    Nothing interrupts a spawn in progress, and mpi4py's manager thread is one that
    interpreter exit waits for (mpi4py's exit hook and ``threading``'s own), so a driver
    whose spawn hangs would never exit, after the error too. This drops the thread from
    both waits; ``MPI_Finalize`` then ends the half-started job (checked on Open MPI 4.1:
    exit in well under a second, no process left). It uses private attributes of mpi4py
    4 and CPython 3.10-3.12; where they differ it changes nothing.
    """
    with contextlib.suppress(ImportError, AttributeError, TypeError):
        from mpi4py.futures import _core

        _core.THREADS_QUEUES.pop(manager, None)
    lock = getattr(manager, "_tstate_lock", None)
    locks = getattr(threading, "_shutdown_locks", None)
    guard = getattr(threading, "_shutdown_locks_lock", None)
    if lock is not None and isinstance(locks, set) and guard is not None:
        with guard:
            locks.discard(lock)


def _default_workers() -> int | None:
    """``None`` lets mpi4py read ``MPI4PY_FUTURES_MAX_WORKERS``; else one per core."""
    if os.environ.get("MPI4PY_FUTURES_MAX_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if sys.platform == "linux" else os.cpu_count()
    return max(1, cores or 1)
