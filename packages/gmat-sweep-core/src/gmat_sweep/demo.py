"""``gmat-sweep demo``: a complete sweep of the bundled example mission.

Runs on the GMAT install gmat-run finds (``GMAT_ROOT``, standard locations, PATH).
When there is none, it runs on the stand-in GMAT from :mod:`gmat_sweep.testing`
and says so plainly: those numbers come from a two-body propagator, not GMAT.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

__all__ = ["EXAMPLE_SCRIPT", "example_script", "run_demo"]

EXAMPLE_SCRIPT = "leo_sweep.script"
DEMO_GRID = {"Sat.SMA": [6900.0, 7000.0, 7100.0, 7200.0], "Sat.INC": [28.5, 51.6, 97.8]}


def example_script() -> Path:
    """Path of the bundled example mission (a real GMAT script)."""
    return Path(str(resources.files("gmat_sweep") / "examples" / EXAMPLE_SCRIPT))


def _stand_in_root() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "gmat-sweep" / "stand-in-gmat"


def _choose_gmat(echo: Callable[[str], None]) -> None:
    """Use a real GMAT if gmat-run finds one; otherwise point GMAT_ROOT at the stand-in."""
    from gmat_run import GmatNotFoundError, locate_gmat

    try:
        install = locate_gmat()
    except GmatNotFoundError:
        from gmat_sweep.testing import make_fake_gmat_install

        root = make_fake_gmat_install(_stand_in_root())
        os.environ["GMAT_ROOT"] = str(root)
        echo(
            "GMAT: no GMAT install found (GMAT_ROOT is not set).\n"
            "      This demo runs on the STAND-IN GMAT that gmat-sweep ships for its tests: a\n"
            "      pure-Python two-body propagator, NOT the real engine. Its numbers are for\n"
            "      showing the workflow only. Set GMAT_ROOT=/path/to/GMAT to run real GMAT.\n"
            f"      (stand-in installed at {root})"
        )
        return
    echo(f"GMAT: {install.version or 'unknown version'} at {install.root}")


def run_demo(
    out: Path,
    *,
    workers: int = -1,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Sweep the example mission over a 4 x 3 grid into ``out`` and print a summary.

    A previous demo sweep in ``out`` is replaced; any other sweep there is refused.
    """
    from gmat_sweep.designs import Grid
    from gmat_sweep.errors import ManifestExistsError
    from gmat_sweep.manifest import MANIFEST_NAME, Manifest
    from gmat_sweep.orchestrator import Sweep
    from gmat_sweep.pools.local import LocalPool

    out = out.expanduser().resolve()
    overwrite = False
    if (out / MANIFEST_NAME).exists():
        if Manifest.load(out).header.get("script", {}).get("name") != EXAMPLE_SCRIPT:
            raise ManifestExistsError(
                f"{out} holds a sweep that is not a demo; choose another --out for the demo"
            )
        overwrite = True
    _choose_gmat(echo)
    script = example_script()
    grid_text = ", ".join(f"{k} in {v}" for k, v in DEMO_GRID.items())
    echo(f"Sweeping {EXAMPLE_SCRIPT}: {grid_text} (12 runs)")
    with LocalPool(workers) as pool:
        sweep = Sweep(
            script, Grid(DEMO_GRID), out=out, backend=pool, progress=progress, overwrite=overwrite
        )
        frame = sweep.run()
    echo(f"\n{sweep.summary()}")
    echo(f"Outputs:  {out}")
    echo(f"  manifest:     {out / MANIFEST_NAME}")
    echo(f"  every run's rows: {out / 'data' / 'report__OrbitReport'}/ (a Parquet dataset)")
    echo(f"\nThe DataFrame ({len(frame)} rows, index {list(frame.index.names)}):")
    echo(frame.head(6).to_string())
    final = frame.groupby(level="run_id").tail(1)
    columns = [c for c in ("Sat.SMA", "Sat.INC", "Sat.Earth.Altitude") if c in final.columns]
    if columns:
        echo("\nLast row of each run:")
        echo(final[columns].to_string())
    echo(f"\nNext: gmat-sweep show {out}")
