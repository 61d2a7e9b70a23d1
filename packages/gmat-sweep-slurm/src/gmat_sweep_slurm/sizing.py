"""How many Dask workers a Slurm node gets, with how many threads and how much memory.

Node resources come from Slurm's environment inside an allocation, else from this
machine:

- CPUs per node: ``SLURM_CPUS_ON_NODE``, else ``os.cpu_count()``;
- memory per node: ``SLURM_MEM_PER_NODE`` (MB), or ``SLURM_MEM_PER_CPU`` (MB) x CPUs,
  else this machine's physical memory;
- nodes: ``SLURM_JOB_NUM_NODES``, else 1;
- ``GMAT_SWEEP_SLURM_MEMORY_HEADROOM_FRAC`` (default 0.0, in [0, 1)) of each node's
  memory is kept out of the workers' limits, for the OS and other processes.

``workers_per_node``, ``threads_per_worker`` (default 1: GMAT is single-threaded) and
``memory_per_worker`` (``"auto"`` = usable memory / workers) may each be given; the
missing ones are inferred from the others.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gmat_sweep.errors import SweepConfigError

__all__ = ["HEADROOM_ENV", "Sizing", "parse_memory", "resolve_sizing"]

HEADROOM_ENV = "GMAT_SWEEP_SLURM_MEMORY_HEADROOM_FRAC"
_MIB = 2**20
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": _MIB, "mb": 10**6,
          "mib": _MIB, "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12,
          "tib": 2**40}  # fmt: skip


class SizingError(SweepConfigError):
    """The requested worker sizing does not fit the node, or an input is invalid."""


@dataclass(frozen=True)
class Sizing:
    """Resolved worker layout (memory in bytes)."""

    nodes: int
    cpus_per_node: int
    memory_per_node: int
    headroom_frac: float
    workers_per_node: int
    threads_per_worker: int
    memory_per_worker: int

    @property
    def workers(self) -> int:
        return self.nodes * self.workers_per_node

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"Slurm sizing: {self.nodes} node(s) x {self.workers_per_node} worker(s), "
            f"{self.threads_per_worker} thread(s) and {self.memory_per_worker / 2**30:.2f} GiB "
            f"each (node: {self.cpus_per_node} CPUs, {self.memory_per_node / 2**30:.2f} GiB, "
            f"headroom {self.headroom_frac:.0%})"
        )


def parse_memory(value: str | int | float, what: str = "memory") -> int:
    """Bytes from ``"4GB"``, ``"3.5GiB"``, ``"800M"`` or a number of bytes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value <= 0:
            raise SizingError(f"{what} must be positive, got {value}")
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :]
    if unit not in _UNITS or not number:
        raise SizingError(f"{what} {value!r}: expected a size like 4GB, 3.5GiB or 800MB")
    try:
        amount = float(number) * _UNITS[unit]
    except ValueError:
        raise SizingError(f"{what} {value!r}: {number!r} is not a number") from None
    if not math.isfinite(amount) or amount <= 0:
        raise SizingError(f"{what} {value!r} must be a positive size")
    return int(amount)


def _int_env(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw.split("(")[0].split(",")[0])  # "2(x3)" forms: the first node's count
    except ValueError:
        raise SizingError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise SizingError(f"{name}={raw!r} must be positive")
    return value


def _headroom(env: Mapping[str, str]) -> float:
    raw = env.get(HEADROOM_ENV)
    if raw is None or raw.strip() == "":
        return 0.0
    try:
        frac = float(raw)
    except ValueError:
        raise SizingError(
            f"{HEADROOM_ENV}={raw!r} is not a number; use a fraction such as 0.1"
        ) from None
    if not math.isfinite(frac) or not 0.0 <= frac < 1.0:
        raise SizingError(f"{HEADROOM_ENV}={raw!r} must be in [0, 1), e.g. 0.1 for 10%")
    return frac


def _machine_memory() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def resolve_sizing(
    env: Mapping[str, str] | None = None,
    *,
    workers_per_node: int | None = None,
    threads_per_worker: int | None = None,
    memory_per_worker: str | int | float | None = "auto",
    machine_cpus: int | None = None,
    machine_memory: int | None = None,
) -> Sizing:
    """Resolve the worker layout from Slurm's environment and what the user gave.

    Raises:
        SizingError: an invalid environment value or option, or a layout that does not
            fit the node (more threads than CPUs, more memory than the node has).
    """
    env = os.environ if env is None else env
    cpus = _int_env(env, "SLURM_CPUS_ON_NODE") or machine_cpus or os.cpu_count() or 1
    mem_node_mb = _int_env(env, "SLURM_MEM_PER_NODE")
    mem_cpu_mb = _int_env(env, "SLURM_MEM_PER_CPU")
    if mem_node_mb is not None:
        memory = mem_node_mb * _MIB
    elif mem_cpu_mb is not None:
        memory = mem_cpu_mb * _MIB * cpus
    else:
        memory = machine_memory or _machine_memory()
    nodes = _int_env(env, "SLURM_JOB_NUM_NODES") or 1
    headroom = _headroom(env)
    usable = int(memory * (1.0 - headroom))

    for name, given in (("workers_per_node", workers_per_node),
                        ("threads_per_worker", threads_per_worker)):  # fmt: skip
        if given is not None and (not isinstance(given, int) or given < 1):
            raise SizingError(f"{name} must be a whole number >= 1, got {given!r}")
    per_worker = (
        None
        if memory_per_worker is None or memory_per_worker == "auto"
        else parse_memory(memory_per_worker, "memory_per_worker")
    )

    if threads_per_worker is None:
        threads_per_worker = 1  # GMAT runs single-threaded; each thread gets its own GMAT
    if workers_per_node is None:
        workers_per_node = max(1, cpus // threads_per_worker)
        if per_worker is not None:
            workers_per_node = max(1, min(workers_per_node, usable // per_worker))
    if workers_per_node * threads_per_worker > cpus:
        raise SizingError(
            f"{workers_per_node} workers x {threads_per_worker} threads need "
            f"{workers_per_node * threads_per_worker} CPUs; the node has {cpus}"
        )
    if per_worker is None:
        per_worker = usable // workers_per_node
    if per_worker * workers_per_node > usable:
        raise SizingError(
            f"{workers_per_node} workers x {per_worker / 2**30:.2f} GiB exceed the node's usable "
            f"memory ({usable / 2**30:.2f} GiB after {headroom:.0%} headroom)"
        )
    return Sizing(
        nodes=nodes,
        cpus_per_node=cpus,
        memory_per_node=memory,
        headroom_frac=headroom,
        workers_per_node=workers_per_node,
        threads_per_worker=threads_per_worker,
        memory_per_worker=per_worker,
    )
