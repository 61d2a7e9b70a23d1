"""RayPool: gmat-sweep runs as Ray tasks, on a private runtime or a Ray cluster.

Each batch of runs (sized by core) is one task (1 CPU, no Ray-level retries) calling
:func:`gmat_sweep.worker.execute_batch` in a Ray worker process, which runs GMAT in its
own host process in node-local scratch. The RunOutcomes, each with its run's parsed
outputs as Arrow IPC bytes, come back through the object store (workers need not see
``out``; the driver writes the dataset). Core keeps about two batches per CPU
submitted; Ray's scheduler hands each to the next free worker. A worker process or node
that dies mid-batch fails its task; gmat-sweep records each of its runs as ``lost`` and
resubmits them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from gmat_sweep.pools.base import Pool
from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = ["RAY_DEFAULT_ENV", "RayPool"]

#: Set before Ray is imported, unless the user already set them: no per-worker
#: environment re-install (images are pre-baked) and no usage-stats reporting.
RAY_DEFAULT_ENV = {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_USAGE_STATS_ENABLED": "0"}

_CAPACITY_TTL_S = 0.5


def _run_batch(specs: list[RunSpec], reuse_gmat_context: bool) -> list[RunOutcome]:
    from gmat_sweep.worker import execute_batch

    return execute_batch(specs, reuse_gmat_context=reuse_gmat_context)


class RayPool(Pool):
    """Run each batch of sweep runs as a Ray task.

    Args:
        address: where Ray runs. ``None``: the cluster named by ``RAY_ADDRESS`` if set,
            else a private local runtime started for this pool (``"local"``);
            ``"auto"``: the cluster running on this machine; ``"ray://host:10001"``:
            a remote cluster through the Ray Client. Ignored when Ray is already
            initialised in this process (that runtime is used).
        num_cpus: CPUs of the private local runtime (default: all).
        autoscale_cpus: on an autoscaling cluster, the most CPUs this sweep may use
            (e.g. ``max_workers`` x CPUs per worker node). The pool reports it as its
            capacity from the start, so core queues runs for the nodes the autoscaler
            is about to add instead of the few present, and asks the autoscaler
            (``ray.autoscaler.sdk.request_resources``) for as many CPUs as it has runs
            in flight, up to this number, so the cluster grows in one step rather
            than by ``upscaling_speed`` per round. The request is withdrawn when the
            pool closes, so idle nodes are released again (``idle_timeout_minutes``).
        reuse_gmat_context: keep each Ray worker's GMAT process between runs.
        **ray_init_kwargs: passed to ``ray.init``.

    ``close()`` shuts Ray down only if this pool started it.

    Raises:
        ValueError: ``num_cpus`` with a cluster address, ``autoscale_cpus`` for a
            private local runtime (nothing there can add nodes) or below 1.
    """

    name = "ray"
    description = "Ray tasks: a private local runtime, or a Ray cluster (auto, ray://)."

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        autoscale_cpus: int | None = None,
        reuse_gmat_context: bool = True,
        **ray_init_kwargs: Any,
    ) -> None:
        super().__init__(reuse_gmat_context=reuse_gmat_context)
        for key, value in RAY_DEFAULT_ENV.items():
            os.environ.setdefault(key, value)
        import ray

        self._ray = ray
        self._closed = False
        self._lock = threading.Lock()
        self._refs: dict[int, Any] = {}
        self._capacity = 1
        self._capacity_at = float("-inf")
        self._runs_in_flight: dict[int, int] = {}
        self._requested_cpus = 0
        if autoscale_cpus is not None and (
            isinstance(autoscale_cpus, bool)
            or not isinstance(autoscale_cpus, int)
            or autoscale_cpus < 1
        ):
            raise ValueError(
                f"RayPool: autoscale_cpus must be a whole number >= 1, got {autoscale_cpus!r}"
            )
        self._autoscale_cpus = autoscale_cpus or 0
        if ray.is_initialized():
            self._owns_runtime = False
            self._address = "existing"
        else:
            target = address if address is not None else os.environ.get("RAY_ADDRESS", "local")
            if target == "local":
                # A private runtime serves only this driver: no dashboard, loopback only
                # (Ray rewrites 127.0.0.1 to the external address; 127.0.0.2 is kept).
                ray_init_kwargs.setdefault("include_dashboard", False)
                ray_init_kwargs.setdefault("_node_ip_address", "127.0.0.2")
            if target != "local" and num_cpus is not None:
                raise ValueError(
                    f"RayPool: num_cpus sizes a private local runtime; the cluster at "
                    f"{target!r} has its own size"
                )
            if target == "local" and autoscale_cpus is not None:
                raise ValueError(
                    "RayPool: autoscale_cpus asks a cluster's autoscaler for nodes; a private "
                    "local runtime has none. Give address='auto' or 'ray://head:10001'."
                )
            _init_ray(ray, target, num_cpus, ray_init_kwargs)
            self._owns_runtime = True
            self._address = target
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_run_batch)

    @property
    def capacity(self) -> int:
        """CPUs in the Ray cluster now (re-read at most every 0.5 s), at least 1, and at
        least ``autoscale_cpus`` when given."""
        now = time.monotonic()
        if now - self._capacity_at > _CAPACITY_TTL_S:
            with contextlib.suppress(Exception):
                cpus = self._ray.cluster_resources().get("CPU", 1)  # type: ignore[no-untyped-call]
                self._capacity = max(1, int(cpus))
            self._capacity_at = now
        return max(self._capacity, self._autoscale_cpus)

    def submit(self, specs: Sequence[RunSpec]) -> Future[list[RunOutcome]]:
        if self._closed:
            raise RuntimeError("this RayPool is closed")
        ref = self._remote.remote(list(specs), self.reuse_gmat_context)
        future: Future[list[RunOutcome]] = ref.future()
        with self._lock:
            self._refs[id(future)] = ref
            self._runs_in_flight[id(future)] = len(specs)
            wanted = min(self._autoscale_cpus, sum(self._runs_in_flight.values()))
        future.add_done_callback(self._forget)
        # Grow only, in steps of a quarter or more: O(log autoscale_cpus) requests a sweep.
        if wanted >= max(1, self._requested_cpus * 5 // 4) or (
            wanted == self._autoscale_cpus > self._requested_cpus
        ):
            self._request_cpus(wanted)
        return future

    def _request_cpus(self, cpus: int) -> None:
        """Ask the autoscaler for ``cpus`` CPUs in all (0 withdraws the request)."""
        from ray.autoscaler.sdk import request_resources

        request_resources(num_cpus=cpus)
        self._requested_cpus = cpus

    def _forget(self, future: Future[list[RunOutcome]]) -> None:
        with self._lock:
            self._refs.pop(id(future), None)
            self._runs_in_flight.pop(id(future), None)

    def options(self) -> Mapping[str, Any]:
        options = {**super().options(), "address": self._address}
        if self._autoscale_cpus:
            options["autoscale_cpus"] = self._autoscale_cpus
        return options

    def close(self) -> None:
        """Cancel this pool's unfinished tasks; shut Ray down only if this pool started it."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            refs = list(self._refs.values())
            self._refs.clear()
        if self._requested_cpus:
            with contextlib.suppress(Exception):  # a cluster already gone has no request
                self._request_cpus(0)
        if self._owns_runtime:
            self._ray.shutdown()
            return
        for ref in refs:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)

    def __repr__(self) -> str:
        return f"RayPool(address={self._address!r})"


#: Attempts at a Ray Client connection whose per-client server fails to start.
_CLIENT_ATTEMPTS = 3


def _init_ray(ray: Any, target: str, num_cpus: int | None, kwargs: dict[str, Any]) -> None:
    """``ray.init``; a failure leaves no half-initialised Ray in this process.

    Through the Ray Client (``ray://``), Ray's proxy starts one server process per
    client, and under load that start sometimes fails ("Starting Ray client server
    failed") while the next succeeds: that case is retried, up to :data:`_CLIENT_ATTEMPTS`
    times in all, a few seconds apart. Any other failure is raised at once.
    """
    for attempt in range(1, _CLIENT_ATTEMPTS + 1):
        try:
            ray.init(address=target, num_cpus=num_cpus, **kwargs)
            return
        except BaseException as exc:
            with contextlib.suppress(Exception):
                ray.shutdown()  # else the next ray.init in this process fails too
            transient = isinstance(exc, ConnectionAbortedError) and (
                "Starting Ray client server failed" in str(exc)
            )
            if not (target.startswith("ray://") and transient) or attempt == _CLIENT_ATTEMPTS:
                raise
            time.sleep(2.0 * attempt)
