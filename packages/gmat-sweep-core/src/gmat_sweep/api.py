"""The one-call entry points: ``sweep``, ``monte_carlo``, ``latin_hypercube``, and the
sensitivity designs ``sobol`` and ``morris`` (:mod:`gmat_sweep.sensitivity_designs`).

Each builds a design, runs it with :class:`~gmat_sweep.orchestrator.Sweep` and returns
the DataFrame (index ``(run_id, time)``, one column per report channel, and
``__status``), or with ``lazy=True`` the sweep's :class:`~gmat_sweep.results.Results`.

Keyword arguments after the design are the same for all of them (:class:`SweepOptions`):

- ``backend``: where runs execute: None (all cores here), a backend name (``"local"``,
  ``"dask"``...), a Pool class or a Pool instance; ``backend_options``: constructor
  options for a backend given by name or class.
- ``out``: the sweep directory (manifest, script copy, the outputs' datasets);
  ``overwrite``: replace a sweep already there (otherwise refused).
- ``timeout``: seconds one run may take (None: no limit); ``max_retries``:
  resubmissions of a run the backend lost (default 2).
- ``progress``: show a progress line (None: only on a terminal).
- ``report``: which output to return when the sweep has several.
- ``validate``: check the script and fields in GMAT (and import ``postprocess``) here
  before starting (default True).
- ``keep_gmat_files``: keep each run's own GMAT files in ``out/runs/<run_id>/``
  (workers must see ``out``); by default ok runs leave no per-run files.
- ``keep``, ``rows``, ``postprocess``: what of each run's outputs to keep
  (:mod:`gmat_sweep.retention`): channels, ``"all"``/``"first"``/``"last"``/
  ``"every:N"`` rows, or a function run on the worker.
- ``accept_unconverged``: count a run whose Target/Optimize sequence did not converge as
  ok (default False: it ends ``unconverged`` and ``resume`` reruns it).
- ``lazy``: return the :class:`~gmat_sweep.results.Results` (a lazy dataset) instead of
  the DataFrame, for sweeps too large for memory.

Raises (all of them): :class:`~gmat_sweep.errors.SweepConfigError` subclasses for a bad
design, script, field, value, retention or ``out``, before any run; ``BackendError`` for
an unknown or uninstalled backend; :class:`~gmat_sweep.errors.ResultsTooLargeError`
after the sweep when its DataFrame would not fit in memory (every run is on disk).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload

from gmat_sweep.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd
    from typing_extensions import Unpack

    from gmat_sweep.designs import Design
    from gmat_sweep.pools.base import Pool
    from gmat_sweep.results import Results

__all__ = ["SweepOptions", "latin_hypercube", "monte_carlo", "morris", "sobol", "sweep"]

PathLike = str | os.PathLike[str]


class SweepOptions(TypedDict, total=False):
    """The keyword arguments every entry point takes (see the module docstring)."""

    backend: Pool | type[Pool] | str | None
    backend_options: Mapping[str, Any] | None
    out: PathLike | None
    timeout: float | None
    max_retries: int
    progress: bool | None
    report: str | None
    overwrite: bool
    validate: bool
    keep_gmat_files: bool
    keep: Sequence[str] | str | None
    rows: str
    postprocess: str | Callable[..., Any] | None
    accept_unconverged: bool


def _run(
    script: PathLike, design: Design, lazy: bool, options: Mapping[str, Any]
) -> pd.DataFrame | Results:
    from gmat_sweep.orchestrator import Sweep

    unknown = sorted(set(options) - set(SweepOptions.__annotations__))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(SweepOptions.__annotations__), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(
            f"unexpected keyword argument {unknown[0]!r}{hint}; the options are: "
            f"{', '.join(SweepOptions.__annotations__)}, lazy"
        )
    settings = {k: v for k, v in options.items() if k != "report"}
    return Sweep(script, design, **settings).run(report=options.get("report"), lazy=lazy)


@overload
def sweep(
    script: PathLike,
    grid: Mapping[str, Sequence[Any]] | None = ...,
    samples: pd.DataFrame | None = ...,
    *,
    lazy: Literal[False] = ...,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame: ...
@overload
def sweep(
    script: PathLike,
    grid: Mapping[str, Sequence[Any]] | None = ...,
    samples: pd.DataFrame | None = ...,
    *,
    lazy: Literal[True],
    **options: Unpack[SweepOptions],
) -> Results: ...


def sweep(
    script: PathLike,
    grid: Mapping[str, Sequence[Any]] | None = None,
    samples: pd.DataFrame | None = None,
    *,
    lazy: bool = False,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame | Results:
    """Run ``script`` once per point of a full-factorial ``grid`` or per row of ``samples``.

    Args:
        script: The GMAT ``.script``.
        grid: Field path -> values, e.g. ``{"Sat.SMA": [7000, 7100], "TOF.Value": [600]}``;
            every combination is one run (the last parameter varies fastest).
        samples: A DataFrame whose columns are field paths; each row is one run.
        lazy, options: See the module docstring.

    Raises:
        DesignError: neither or both of ``grid`` and ``samples`` were given, or the
            design is malformed. Others as listed in the module docstring.
    """
    from gmat_sweep.designs import Grid, Samples

    if (grid is None) == (samples is None):
        raise DesignError("pass exactly one of grid= (a full factorial) or samples= (a table)")
    design: Design = Grid(grid) if grid is not None else Samples(samples)  # type: ignore[arg-type]
    return _run(script, design, lazy, options)


@overload
def monte_carlo(
    script: PathLike,
    n: int,
    perturb: Mapping[Any, Any],
    seed: int | None = ...,
    *,
    lazy: Literal[False] = ...,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame: ...
@overload
def monte_carlo(
    script: PathLike,
    n: int,
    perturb: Mapping[Any, Any],
    seed: int | None = ...,
    *,
    lazy: Literal[True],
    **options: Unpack[SweepOptions],
) -> Results: ...


def monte_carlo(
    script: PathLike,
    n: int,
    perturb: Mapping[Any, Any],
    seed: int | None = None,
    *,
    lazy: bool = False,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame | Results:
    """Run ``n`` Monte Carlo draws of the fields in ``perturb``.

    ``perturb`` maps a field path to a distribution: ``("normal", mu, sigma)``,
    ``("uniform", lo, hi)``, ``("lognormal", mu, sigma)`` or a frozen
    ``scipy.stats`` distribution; or a tuple of field paths to a joint one:
    ``("mvnormal", mean, cov)`` (``cov`` a matrix or a CSV/``.npy`` file) or
    ``("pointing", nominal, magnitude_sigma_rel, angle_sigma_deg)`` for a burn
    (:mod:`gmat_sweep.dispersions`). The same ``seed`` gives the same draws
    everywhere; without one, a seed is drawn and recorded in the manifest so that
    resume and extend reproduce the same values. ``lazy`` and the options as in the
    module docstring.
    """
    from gmat_sweep.designs import MonteCarlo

    return _run(script, MonteCarlo(n, perturb, seed=seed), lazy, options)


@overload
def latin_hypercube(
    script: PathLike,
    n: int,
    bounds: Mapping[str, Any],
    seed: int | None = ...,
    *,
    lazy: Literal[False] = ...,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame: ...
@overload
def latin_hypercube(
    script: PathLike,
    n: int,
    bounds: Mapping[str, Any],
    seed: int | None = ...,
    *,
    lazy: Literal[True],
    **options: Unpack[SweepOptions],
) -> Results: ...


def latin_hypercube(
    script: PathLike,
    n: int,
    bounds: Mapping[str, Any],
    seed: int | None = None,
    *,
    lazy: bool = False,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame | Results:
    """Run an ``n``-point Latin hypercube over ``bounds``.

    ``bounds`` maps a field path to ``(lo, hi)`` (uniform strata) or to a
    distribution as in :func:`monte_carlo` (strata of equal probability); groups of
    fields are refused (a ``DesignError``): each field is stratified alone. Seeds as
    in :func:`monte_carlo`; ``lazy`` and the options as in the module docstring.
    """
    from gmat_sweep.designs import LatinHypercube

    return _run(script, LatinHypercube(n, bounds, seed=seed), lazy, options)


@overload
def sobol(
    script: PathLike,
    n: int,
    perturb: Mapping[str, Any],
    seed: int | None = ...,
    *,
    calc_second_order: bool = ...,
    lazy: Literal[False] = ...,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame: ...
@overload
def sobol(
    script: PathLike,
    n: int,
    perturb: Mapping[str, Any],
    seed: int | None = ...,
    *,
    calc_second_order: bool = ...,
    lazy: Literal[True],
    **options: Unpack[SweepOptions],
) -> Results: ...


def sobol(
    script: PathLike,
    n: int,
    perturb: Mapping[str, Any],
    seed: int | None = None,
    *,
    calc_second_order: bool = False,
    lazy: bool = False,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame | Results:
    """Run Saltelli's sample for Sobol' indices of the fields in ``perturb``.

    ``n`` base points (a power of 2) give ``n * (D + 2)`` runs for ``D`` fields, or
    ``n * (2D + 2)`` with ``calc_second_order``. ``perturb`` maps a field path to
    ``(lo, hi)`` bounds or a distribution as in :func:`monte_carlo` (no groups).
    SALib draws the sample (``pip install "gmat-sweep-core[sensitivity]"``); the
    manifest keeps it, so resume redraws nothing. Analyse the sweep with
    :func:`gmat_sweep.analysis.sensitivity`. ``lazy`` and the options as in the module
    docstring.
    """
    from gmat_sweep.sensitivity_designs import Sobol

    design = Sobol(n, perturb, seed=seed, calc_second_order=calc_second_order)
    return _run(script, design, lazy, options)


@overload
def morris(
    script: PathLike,
    trajectories: int,
    perturb: Mapping[str, Any],
    seed: int | None = ...,
    *,
    levels: int = ...,
    lazy: Literal[False] = ...,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame: ...
@overload
def morris(
    script: PathLike,
    trajectories: int,
    perturb: Mapping[str, Any],
    seed: int | None = ...,
    *,
    levels: int = ...,
    lazy: Literal[True],
    **options: Unpack[SweepOptions],
) -> Results: ...


def morris(
    script: PathLike,
    trajectories: int,
    perturb: Mapping[str, Any],
    seed: int | None = None,
    *,
    levels: int = 4,
    lazy: bool = False,
    **options: Unpack[SweepOptions],
) -> pd.DataFrame | Results:
    """Run Morris' elementary-effects screening of the fields in ``perturb``.

    ``trajectories`` one-at-a-time paths of ``D + 1`` runs each, on a grid of
    ``levels`` (even) levels per field; ``perturb`` maps a field path to ``(lo, hi)``
    bounds (or ``("uniform", lo, hi)``). SALib draws the trajectories, as for
    :func:`sobol`. Analyse with :func:`gmat_sweep.analysis.sensitivity`. ``lazy`` and
    the options as in the module docstring.
    """
    from gmat_sweep.sensitivity_designs import Morris

    design = Morris(trajectories, perturb, seed=seed, levels=levels)
    return _run(script, design, lazy, options)
