"""Jobs mode: run this on a login node; gmat-sweep submits Dask worker jobs to Slurm.

    python jobs_driver.py mission.script --out /scratch/$USER/sweeps/mc --maximum 40

Workers arrive as Slurm jobs (``squeue -n dask-worker``), adapt between --minimum and
--maximum, and are cancelled when the sweep ends. The driver must outlive the sweep:
run it under tmux/screen, or use allocation mode (allocation.sbatch) instead.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script")
    parser.add_argument("--out", required=True, help="sweep directory (only this driver writes it)")
    parser.add_argument("--n", type=int, default=2000, help="Monte Carlo runs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--partition", default=None)
    parser.add_argument("--account", default=None)
    parser.add_argument("--walltime", default="04:00:00", help="per worker job")
    parser.add_argument("--minimum", type=int, default=1)
    parser.add_argument("--maximum", type=int, default=20)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    from gmat_sweep import Sweep
    from gmat_sweep.designs import MonteCarlo
    from gmat_sweep_slurm import SlurmPool

    pool = SlurmPool(
        mode="jobs",
        partition=args.partition,
        account=args.account,
        walltime=args.walltime,
        minimum=args.minimum,
        maximum=args.maximum,
        memory_per_worker="3GiB",
        prologue=["module load gmat 2>/dev/null || true", "export GMAT_ROOT=/opt/gmat"],
        sbatch_directives=["--requeue"],
    )
    with pool:
        if args.resume:
            frame = Sweep.from_manifest(args.out, backend=pool).resume()
        else:
            design = MonteCarlo(  # edit me
                args.n, {"Burn.Element1": ("normal", 0.1, 0.001)}, seed=args.seed
            )
            frame = Sweep(args.script, design, out=args.out, backend=pool, timeout=900).run()
    print(frame.groupby(level="run_id").tail(1).describe())


if __name__ == "__main__":
    main()
