"""Run a gmat-sweep on Kubernetes through the dask-kubernetes operator.

Run this inside the cluster (the driver Pod of driver-pod.yaml):

    python driver.py mission.script --out /out/sma --workers 32 \
        --image registry.example/gmat-sweep:1.4.2 --name sma-sweep

It creates the DaskCluster ``--name`` from ``sweep_cluster_spec``, runs the sweep on it,
and deletes it when the sweep ends, fails, or the Pod is stopped (SIGTERM). It never
attaches to an existing cluster: if one with that name exists, it stops and says so,
unless ``--replace-cluster`` is given (then it deletes that cluster first). ``--out``
may be anywhere the driver can write; put it on a claim so that it outlives the Pod.
``--pvc``/``--mount`` also mount a ReadWriteMany claim on the scheduler and the workers
(only for files the script names by absolute path, or keep_gmat_files). ``--dry-run``
prints the resources instead of creating them. If the driver Pod dies, start it again
with ``--resume``: finished runs are kept.

Before the cluster it creates the NetworkPolicy ``<name>-dask`` (``sweep_network_policy``):
only the cluster's pods, this driver Pod (label ``app.kubernetes.io/name:
gmat-sweep-driver``) and the dask-kubernetes operator may connect to the scheduler and
workers, because a Dask scheduler runs the code it is sent. It deletes the policy after
the cluster. ``--no-network-policy`` skips it (only in a namespace no one else uses).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gmat_sweep_dask.kubernetes import sweep_cluster_spec, sweep_network_policy

DELETE_TIMEOUT_S = 300.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The driver's arguments; exits with status 2 and a message when they are wrong."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("script", help="mission script (in the driver Pod, e.g. the ConfigMap)")
    parser.add_argument("--out", required=True, help="sweep directory (on the driver's claim)")
    parser.add_argument("--workers", type=int, default=8, help="worker Pods")
    parser.add_argument("--image", required=True, help="pinned image with GMAT + gmat-sweep")
    parser.add_argument("--name", default="gmat-sweep", help="the DaskCluster's name")
    parser.add_argument("--namespace", help="default: the Pod's own namespace")
    parser.add_argument("--cpu", default="1", help="CPU of each scheduler/worker Pod")
    parser.add_argument("--memory", default="2Gi", help="memory of each scheduler/worker Pod")
    parser.add_argument(
        "--idle-timeout", type=int, default=600, help="s idle before the operator deletes it"
    )  # fmt: skip
    parser.add_argument("--pvc", help="ReadWriteMany claim to mount on scheduler and workers")
    parser.add_argument("--mount", help="where --pvc is mounted on scheduler and workers")
    parser.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    parser.add_argument(
        "--replace-cluster", action="store_true", help="delete an existing DaskCluster --name first"
    )  # fmt: skip
    parser.add_argument(
        "--no-network-policy", action="store_true",
        help="do not restrict who may connect to the Dask cluster (a namespace of your own)",
    )  # fmt: skip
    parser.add_argument(
        "--dry-run", action="store_true", help="print the resources (a v1 List) and exit"
    )
    args = parser.parse_args(argv)
    if (args.pvc is None) != (args.mount is None):
        parser.error("--pvc and --mount go together: give both or neither")
    return args


def cluster_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The DaskCluster resource for ``args``. Raises ValueError from sweep_cluster_spec."""
    return sweep_cluster_spec(
        args.name,
        image=args.image,
        n_workers=args.workers,
        pvc=args.pvc,
        mount_path=args.mount,
        cpu=args.cpu,
        memory=args.memory,
        idle_timeout=args.idle_timeout,
    )


def resources(args: argparse.Namespace) -> list[dict[str, Any]]:
    """What the driver creates, in order: the NetworkPolicy (unless --no-network-policy),
    then the DaskCluster. Raises ValueError from sweep_cluster_spec."""
    spec = cluster_spec(args)
    return ([] if args.no_network_policy else [sweep_network_policy(args.name)]) + [spec]


@contextlib.contextmanager
def network_policy(
    policy: dict[str, Any] | None,
    namespace: str | None,
    make: Callable[[dict[str, Any], str | None], Any] | None = None,
) -> Iterator[None]:
    """Create ``policy`` (if any) for the body's duration; it is deleted afterwards,
    whatever ends the body. A leftover policy of the same name (a driver that died) is
    replaced."""
    if policy is None:
        yield
        return
    if make is None:
        from kr8s.objects import NetworkPolicy

        def make(resource: dict[str, Any], ns: str | None) -> Any:
            return NetworkPolicy(resource, namespace=ns)

    created = make(policy, namespace)
    if created.exists():
        created.delete()
    created.create()
    try:
        yield
    finally:
        created.delete()


def find_cluster(name: str, namespace: str | None) -> Any | None:
    """The DaskCluster resource ``name`` (a kr8s object), or None if there is none."""
    import kr8s
    from kr8s.objects import new_class

    daskcluster = new_class("DaskCluster", "kubernetes.dask.org/v1")
    try:
        return daskcluster.get(name, namespace=namespace)
    except kr8s.NotFoundError:
        return None


def start_cluster(
    spec: dict[str, Any],
    *,
    replace: bool,
    namespace: str | None = None,
    find: Callable[[str, str | None], Any | None] = find_cluster,
    kube_cluster: Callable[..., Any] | None = None,
) -> Any:
    """Create the cluster of ``spec`` (a KubeCluster that deletes it when closed).

    Raises:
        SystemExit: a DaskCluster with that name exists and ``replace`` is false, or it
            was not gone ``DELETE_TIMEOUT_S`` after deleting it.
    """
    name = spec["metadata"]["name"]
    existing = find(name, namespace)
    if existing is not None:
        if not replace:
            raise SystemExit(
                f"A DaskCluster named {name!r} already exists, so this driver does not "
                "start (it would not run your spec). It is either left by a driver that "
                "died (the operator deletes it once its scheduler has had no tasks for "
                f"idleTimeout = {spec['spec']['idleTimeout']} s; 0 means never) or in use "
                "by another driver. If no driver uses it, run again with --replace-cluster "
                f"(or `kubectl delete daskcluster {name}` first); otherwise pick another --name."
            )
        existing.delete()
        deadline = time.monotonic() + DELETE_TIMEOUT_S
        while existing.exists():
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"DaskCluster {name!r} still exists {DELETE_TIMEOUT_S:.0f} s after "
                    "deleting it: is the dask-kubernetes operator running? "
                    f"(kubectl describe daskcluster {name})"
                )
            time.sleep(1.0)
    from dask_kubernetes.operator.kubecluster.kubecluster import CreateMode

    if kube_cluster is None:
        from dask_kubernetes.operator import KubeCluster as kube_cluster
    # CREATE_ONLY: never attach to a cluster made from another spec. KubeCluster deletes
    # a cluster it created when closed (shutdown_on_close defaults to True for those).
    return kube_cluster(
        custom_cluster_spec=spec, namespace=namespace, create_mode=CreateMode.CREATE_ONLY
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        *policies, spec = resources(args)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.dry_run:
        listing = {"apiVersion": "v1", "kind": "List", "items": [*policies, spec]}
        print(json.dumps(listing, indent=2))
        return

    from distributed import Client

    from gmat_sweep import Sweep
    from gmat_sweep.designs import Grid
    from gmat_sweep_dask import DaskPool

    # Pod deletion, eviction and node drain send SIGTERM: unwind like Ctrl-C, so that the
    # sweep cancels what is in flight and the with-block deletes the cluster.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with network_policy(policies[0] if policies else None, args.namespace):
        cluster = start_cluster(spec, replace=args.replace_cluster, namespace=args.namespace)
        with cluster, Client(cluster) as client:
            pool = DaskPool(client=client)
            if args.resume:
                frame = Sweep.from_manifest(args.out, backend=pool).resume()
            else:
                design = Grid({"Sat.SMA": [6900.0 + 10.0 * i for i in range(100)]})  # edit me
                frame = Sweep(args.script, design, out=args.out, backend=pool).run()
            print(frame.groupby(level="run_id").tail(1))


if __name__ == "__main__":
    main()
