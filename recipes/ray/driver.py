"""Run a gmat-sweep on a Ray cluster, on its head node (``ray submit`` copies it there).

    ray submit cluster.yaml driver.py -- /sweeps/mission.script --out /sweeps/sma
    ray submit cluster.yaml driver.py -- /sweeps/mission.script --out /sweeps/sma --resume

The pool joins the running cluster (``address="auto"``) and asks the autoscaler for
``--autoscale-cpus`` CPUs at once (``cluster.yaml``'s ``max_workers`` x the CPUs of a
worker node), or fewer when fewer runs are in flight; the request is withdrawn when the
sweep ends and idle workers are released after ``idle_timeout_minutes``.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script")
    parser.add_argument(
        "--out", required=True, help="sweep directory, on the driver (workers need not see it)"
    )
    parser.add_argument("--n", type=int, default=1000, help="Monte Carlo runs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--address", default="auto")
    parser.add_argument(
        "--autoscale-cpus",
        type=int,
        default=64 * 16,
        help="most CPUs the sweep may use: max_workers x CPUs per worker node",
    )
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    from gmat_sweep import Sweep
    from gmat_sweep.designs import MonteCarlo
    from gmat_sweep_ray import RayPool

    with RayPool(address=args.address, autoscale_cpus=args.autoscale_cpus) as pool:
        if args.resume:
            frame = Sweep.from_manifest(args.out, backend=pool).resume()
        else:
            design = MonteCarlo(  # edit me
                args.n,
                {"Sat.SMA": ("normal", 7000.0, 5.0), "Sat.INC": ("normal", 51.6, 0.05)},
                seed=args.seed,
            )
            frame = Sweep(args.script, design, out=args.out, backend=pool).run()
    print(frame.groupby(level="run_id").tail(1).describe())


if __name__ == "__main__":
    main()
