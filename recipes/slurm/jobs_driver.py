"""Jobs mode: run this on a login node; gmat-sweep submits Dask worker jobs to Slurm.

    python jobs_driver.py mission.script --out /scratch/$USER/sweeps/mc --maximum 40 \
        --module gmat/R2026a --interface ib0

What to edit for your site (the defaults are the safe choice):

- ``--module``: environment modules each worker job loads (none by default). A module
  that does not load ends that worker job with a message in its Slurm log, instead of a
  worker that runs without GMAT.
- ``--gmat-root``: only when neither a module nor this driver's own environment sets
  ``GMAT_ROOT`` (sbatch passes the driver's environment to the worker jobs). By default
  nothing overrides what a module sets.
- ``--interface``: the network the compute nodes reach this login node on (``ib0``,
  ``eth1``...). By default Dask listens on every interface and advertises the address
  of this machine's default route; set it when workers never join (their logs say
  they cannot reach the scheduler).

Workers arrive as Slurm jobs (``squeue -n dask-worker``), adapt between --minimum and
--maximum, and are cancelled when the sweep ends. The driver must outlive the sweep:
run it under tmux/screen, or use allocation mode (allocation.sbatch) instead.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Sequence


def worker_prologue(modules: Sequence[str] = (), gmat_root: str | None = None) -> list[str]:
    """Shell lines each worker job runs before its Dask worker starts.

    Raises:
        SystemExit: a module name with characters no module system uses.
    """
    lines = []
    for name in modules:
        if not re.fullmatch(r"[A-Za-z0-9._+/-]+", name):
            raise SystemExit(f"--module {name!r}: expected a module name such as gmat/R2026a")
        lines.append(
            f'module load {name} || {{ echo "gmat-sweep: module load {name} failed on '
            f'$(hostname)" >&2; exit 1; }}'
        )
    if gmat_root:
        lines.append(f"export GMAT_ROOT={shlex.quote(gmat_root)}")
    return lines


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
    parser.add_argument("--module", action="append", default=[], help="repeatable")
    parser.add_argument("--gmat-root", default=None, help="GMAT_ROOT on the compute nodes")
    parser.add_argument("--interface", default=None, help="e.g. ib0")
    parser.add_argument(
        "--shared-temp-directory", default=None,
        help="where the worker jobs read the pool's TLS certificates (default: here)",
    )  # fmt: skip
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
        prologue=worker_prologue(args.module, args.gmat_root),
        interface=args.interface,
        sbatch_directives=["--requeue"],
        shared_temp_directory=args.shared_temp_directory,  # on a filesystem the nodes see
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
