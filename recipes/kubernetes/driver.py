"""Run a gmat-sweep on Kubernetes through the dask-kubernetes operator.

Run this inside the cluster (the driver Pod of driver-pod.yaml), with the sweep's
claim mounted at the same path as on the workers:

    python driver.py mission.script --out /sweeps/sma --workers 32 \
        --image registry.example/gmat-sweep:1.4.2 --pvc sweeps --mount /sweeps

``--dry-run`` prints the DaskCluster resource instead of creating it. If the driver
Pod is evicted, start it again with ``--resume``: finished runs are kept.
"""

from __future__ import annotations

import argparse
import json

from gmat_sweep_dask.kubernetes import sweep_cluster_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", help="mission script, on the shared claim")
    parser.add_argument("--out", required=True, help="sweep directory, under --mount")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--image", required=True, help="pinned image with GMAT + gmat-sweep")
    parser.add_argument("--pvc", required=True, help="ReadWriteMany claim name")
    parser.add_argument("--mount", default="/sweeps", help="where the claim is mounted")
    parser.add_argument("--name", default="gmat-sweep")
    parser.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    parser.add_argument("--dry-run", action="store_true", help="print the DaskCluster spec")
    args = parser.parse_args()
    if not args.out.startswith(args.mount.rstrip("/") + "/"):
        parser.error(f"--out {args.out} must be under --mount {args.mount}: workers write there")

    spec = sweep_cluster_spec(
        args.name, image=args.image, n_workers=args.workers, pvc=args.pvc, mount_path=args.mount
    )
    if args.dry_run:
        print(json.dumps(spec, indent=2))
        return

    from dask_kubernetes.operator import KubeCluster
    from distributed import Client

    from gmat_sweep import Sweep
    from gmat_sweep.designs import Grid
    from gmat_sweep_dask import DaskPool

    with KubeCluster(custom_cluster_spec=spec) as cluster, Client(cluster) as client:
        pool = DaskPool(client=client)
        if args.resume:
            frame = Sweep.from_manifest(args.out, backend=pool).resume()
        else:
            design = Grid({"Sat.SMA": [6900.0 + 10.0 * i for i in range(100)]})  # edit me
            frame = Sweep(args.script, design, out=args.out, backend=pool).run()
        print(frame.groupby(level="run_id").tail(1))


if __name__ == "__main__":
    main()
