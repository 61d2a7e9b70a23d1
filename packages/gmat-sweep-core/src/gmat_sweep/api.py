"""The one-call entry points: ``sweep``, ``monte_carlo`` and ``latin_hypercube``.

Each builds a design, runs it with :class:`~gmat_sweep.orchestrator.Sweep` and returns
the DataFrame (index ``(run_id, time)``, one column per report channel, and
``__status``). Keyword arguments after the design are the same for all three.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gmat_sweep.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

    from gmat_sweep.designs import Design
    from gmat_sweep.pools.base import Pool

__all__ = ["latin_hypercube", "monte_carlo", "sweep"]

PathLike = str | os.PathLike[str]


def _run(
    script: PathLike,
    design: Design,
    *,
    backend: Pool | type[Pool] | str | None,
    backend_options: Mapping[str, Any] | None,
    out: PathLike | None,
    timeout: float | None,
    max_retries: int,
    progress: bool | None,
    report: str | None,
    overwrite: bool,
    validate: bool,
    keep_gmat_files: bool,
) -> pd.DataFrame:
    from gmat_sweep.orchestrator import Sweep

    return Sweep(
        script,
        design,
        out=out,
        backend=backend,
        backend_options=backend_options,
        timeout=timeout,
        max_retries=max_retries,
        progress=progress,
        overwrite=overwrite,
        validate=validate,
        keep_gmat_files=keep_gmat_files,
    ).run(report=report)


def sweep(
    script: PathLike,
    grid: Mapping[str, Sequence[Any]] | None = None,
    samples: pd.DataFrame | None = None,
    *,
    backend: Pool | type[Pool] | str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    out: PathLike | None = None,
    timeout: float | None = None,
    max_retries: int = 2,
    progress: bool | None = None,
    report: str | None = None,
    overwrite: bool = False,
    validate: bool = True,
    keep_gmat_files: bool = False,
) -> pd.DataFrame:
    """Run ``script`` once per point of a full-factorial ``grid`` or per row of ``samples``.

    Args:
        script: The GMAT ``.script``.
        grid: Field path -> values, e.g. ``{"Sat.SMA": [7000, 7100], "TOF.Value": [600]}``;
            every combination is one run (the last parameter varies fastest).
        samples: A DataFrame whose columns are field paths; each row is one run.
        backend: Where runs execute: None (all cores here), a backend name
            (``"local"``, ``"dask"``...), a Pool class or a Pool instance.
        backend_options: Constructor options for a backend given by name or class.
        out: The sweep directory (manifest, script copy, the outputs' datasets).
        timeout: Seconds one run may take (None: no limit).
        max_retries: Resubmissions of a run the backend lost (default 2).
        progress: Show a progress line (None: only on a terminal).
        report: Which ReportFile to return when the script has several.
        overwrite: Replace a sweep already in ``out`` (otherwise refused).
        validate: Check the script and fields in GMAT before starting.
        keep_gmat_files: Keep each run's own GMAT files in ``out/runs/<run_id>/``
            (workers must see ``out``); by default ok runs leave no per-run files.

    Raises:
        DesignError: neither or both of ``grid`` and ``samples`` were given, or the
            design is malformed. Other :class:`~gmat_sweep.errors.SweepConfigError`
            subclasses for a bad script, field, value or ``out``.
    """
    from gmat_sweep.designs import Grid, Samples

    if (grid is None) == (samples is None):
        raise DesignError("pass exactly one of grid= (a full factorial) or samples= (a table)")
    design: Design = Grid(grid) if grid is not None else Samples(samples)  # type: ignore[arg-type]
    return _run(
        script,
        design,
        backend=backend,
        backend_options=backend_options,
        out=out,
        timeout=timeout,
        max_retries=max_retries,
        progress=progress,
        report=report,
        overwrite=overwrite,
        validate=validate,
        keep_gmat_files=keep_gmat_files,
    )


def monte_carlo(
    script: PathLike,
    n: int,
    perturb: Mapping[str, Any],
    seed: int | None = None,
    *,
    backend: Pool | type[Pool] | str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    out: PathLike | None = None,
    timeout: float | None = None,
    max_retries: int = 2,
    progress: bool | None = None,
    report: str | None = None,
    overwrite: bool = False,
    validate: bool = True,
    keep_gmat_files: bool = False,
) -> pd.DataFrame:
    """Run ``n`` Monte Carlo draws of the fields in ``perturb``.

    ``perturb`` maps a field path to a distribution: ``("normal", mu, sigma)``,
    ``("uniform", lo, hi)``, ``("lognormal", mu, sigma)`` or a frozen
    ``scipy.stats`` distribution. The same ``seed`` gives the same draws
    everywhere; without one, a seed is drawn and recorded in the manifest so that
    resume and extend reproduce the same values. Other arguments as in
    :func:`sweep`.
    """
    from gmat_sweep.designs import MonteCarlo

    return _run(
        script,
        MonteCarlo(n, perturb, seed=seed),
        backend=backend,
        backend_options=backend_options,
        out=out,
        timeout=timeout,
        max_retries=max_retries,
        progress=progress,
        report=report,
        overwrite=overwrite,
        validate=validate,
        keep_gmat_files=keep_gmat_files,
    )


def latin_hypercube(
    script: PathLike,
    n: int,
    bounds: Mapping[str, Any],
    seed: int | None = None,
    *,
    backend: Pool | type[Pool] | str | None = None,
    backend_options: Mapping[str, Any] | None = None,
    out: PathLike | None = None,
    timeout: float | None = None,
    max_retries: int = 2,
    progress: bool | None = None,
    report: str | None = None,
    overwrite: bool = False,
    validate: bool = True,
    keep_gmat_files: bool = False,
) -> pd.DataFrame:
    """Run an ``n``-point Latin hypercube over ``bounds``.

    ``bounds`` maps a field path to ``(lo, hi)`` (uniform strata) or to a
    distribution as in :func:`monte_carlo` (strata of equal probability). Seeds as
    in :func:`monte_carlo`. Other arguments as in :func:`sweep`.
    """
    from gmat_sweep.designs import LatinHypercube

    return _run(
        script,
        LatinHypercube(n, bounds, seed=seed),
        backend=backend,
        backend_options=backend_options,
        out=out,
        timeout=timeout,
        max_retries=max_retries,
        progress=progress,
        report=report,
        overwrite=overwrite,
        validate=validate,
        keep_gmat_files=keep_gmat_files,
    )
