"""Sensitivity indices of a Sobol' or Morris sweep, with SALib's estimators.

:func:`sensitivity` reads the design from the sweep's manifest (a :func:`gmat_sweep.sobol`
or :func:`gmat_sweep.morris` sweep), takes one value of a metric per run (a channel at
the run's last row by default, or a function of the run's rows), and hands the values
in run order to ``SALib.analyze.sobol`` or ``SALib.analyze.morris``:

- Sobol': first-order (``S1``) and total (``ST``) indices, each with ``_conf``, the
  half-width of its bootstrap confidence interval (``S1 ± S1_conf``) at ``conf_level``;
  :func:`interactions` gives the second-order indices (``S2``) of a design that sampled
  them (``calc_second_order=True``).
- Morris: the mean (``mu``) and mean absolute value (``mu_star``, with ``mu_star_conf``)
  of each parameter's elementary effects, and their standard deviation (``sigma``: a
  large one means interactions or non-linearity). An elementary effect is the change of
  the metric over one step divided by the step as a fraction of the parameter's range
  (``levels / (2 * (levels - 1))``), so ``mu_star`` is in the metric's units per whole
  range of the parameter.

The estimators need every run of the design: a run that did not end ok, or was not run
yet, is refused, saying how many and how to complete them (``gmat-sweep resume``),
never left out. The bootstrap is seeded (by default with the design's seed), so the
same sweep gives the same confidence intervals. SALib is imported only here, when
indices are computed (``pip install "gmat-sweep-core[sensitivity]"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from gmat_sweep.analysis.runs import Reduction, per_run
from gmat_sweep.analysis.source import OK, Batch, Source, open_source
from gmat_sweep.errors import AnalysisError
from gmat_sweep.manifest import STATUSES
from gmat_sweep.results import Results
from gmat_sweep.sensitivity_designs import SENSITIVITY_KINDS, TABLE_NAME, import_salib

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Metric", "interactions", "sensitivity"]

#: A channel name, or a function of one run's rows returning one number.
Metric = str | Callable[["pd.DataFrame"], Any]
SweepLike = Union[Results, str, "os.PathLike[str]"]
_SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")
_MORRIS_COLUMNS = ("mu", "mu_star", "mu_star_conf", "sigma")


def sensitivity(
    runs: SweepLike,
    metric: Metric,
    *,
    how: Reduction = "last",
    report: str | None = None,
    kind: str | None = None,
    conf_level: float = 0.95,
    num_resamples: int = 100,
    seed: int | None = None,
) -> pd.DataFrame:
    """The sensitivity indices of ``metric`` to each parameter of a Sobol' or Morris sweep.

    Args:
        runs: The sweep: its Results or its directory (the design is read from its
            manifest, so not a DataFrame).
        metric: A channel, reduced per run by ``how`` (default: its value in the run's
            last row); or a function called once per run with the run's rows (a
            DataFrame indexed by ``time``, one float64 column per numeric channel) that
            returns one real number.
        how: ``"last"``, ``"first"``, ``"min"``, ``"max"`` or ``"mean"`` (a channel only;
            see :func:`~gmat_sweep.analysis.per_run`).
        report, kind: Which output of the sweep (as for ``load_results``).
        conf_level: The confidence level of the ``_conf`` columns.
        num_resamples: Bootstrap resamples for them.
        seed: The bootstrap's seed (default: the design's seed).

    Returns:
        A DataFrame indexed by ``parameter`` (the design's order): for a Sobol' design
        the columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; for a Morris design ``mu``,
        ``mu_star``, ``mu_star_conf``, ``sigma`` (all float64).

    Raises:
        AnalysisError: the sweep is not a Sobol' or Morris design; some of its runs did
            not end ok or were not run yet (saying how many, and to resume); the metric
            is NaN or constant; an unknown channel or ``how``; SALib is not installed.
    """
    import pandas as pd

    results, design, values = _metric_values(runs, metric, how, report, kind)
    _check_estimator_options(conf_level, num_resamples)
    names = [str(p) for p in design["parameters"]]
    seed = _seed(design) if seed is None else seed
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    options = {"num_resamples": num_resamples, "conf_level": conf_level, "seed": seed}
    if design["kind"] == "sobol":
        analyze = import_salib("SALib.analyze.sobol", "Sobol' indices", AnalysisError)
        second = bool(design["calc_second_order"])
        indices = analyze.analyze(problem, values, calc_second_order=second, **options)
        columns = _SOBOL_COLUMNS
    else:
        analyze = import_salib("SALib.analyze.morris", "Morris indices", AnalysisError)
        inputs = _inputs(results, design)
        levels = int(design["levels"])
        indices = analyze.analyze(problem, inputs, values, num_levels=levels, **options)
        columns = _MORRIS_COLUMNS
    data = {c: np.asarray(indices[c], dtype=np.float64) for c in columns}
    frame: pd.DataFrame = pd.DataFrame(data, index=pd.Index(names, name="parameter"))
    return frame


def interactions(
    runs: SweepLike,
    metric: Metric,
    *,
    how: Reduction = "last",
    report: str | None = None,
    kind: str | None = None,
    conf_level: float = 0.95,
    num_resamples: int = 100,
    seed: int | None = None,
) -> pd.DataFrame:
    """The second-order Sobol' indices of ``metric``: one row per pair of parameters.

    Arguments as for :func:`sensitivity`, on a Sobol' sweep drawn with
    ``calc_second_order=True``. Returns a DataFrame indexed by ``(parameter, other)``
    (each pair once, in the design's order) with columns ``S2`` and ``S2_conf``.

    Raises:
        AnalysisError: as :func:`sensitivity`, and for a design that did not sample
            second-order effects (a Morris design, or ``calc_second_order=False``).
    """
    import pandas as pd

    results, design, values = _metric_values(runs, metric, how, report, kind)
    if design["kind"] != "sobol" or not design.get("calc_second_order"):
        what = "a Morris design" if design["kind"] == "morris" else "calc_second_order=False"
        raise AnalysisError(
            f"second-order indices need a Sobol' sweep drawn with calc_second_order=True; "
            f"{results.out_dir} is {what}. Run sobol(..., calc_second_order=True) for them."
        )
    _check_estimator_options(conf_level, num_resamples)
    names = [str(p) for p in design["parameters"]]
    analyze = import_salib("SALib.analyze.sobol", "Sobol' indices", AnalysisError)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    indices = analyze.analyze(
        problem,
        values,
        calc_second_order=True,
        num_resamples=num_resamples,
        conf_level=conf_level,
        seed=_seed(design) if seed is None else seed,
    )
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    index = pd.MultiIndex.from_tuples(
        [(names[i], names[j]) for i, j in pairs], names=["parameter", "other"]
    )
    data = {c: [float(indices[c][i, j]) for i, j in pairs] for c in ("S2", "S2_conf")}
    frame: pd.DataFrame = pd.DataFrame(data, index=index, dtype=np.float64)
    return frame


def _metric_values(
    runs: SweepLike, metric: Metric, how: Reduction, report: str | None, kind: str | None
) -> tuple[Results, dict[str, Any], npt.NDArray[np.float64]]:
    """The sweep, its design header and the metric of every run, in run order, checked:
    every run ended ok and has a finite value, and the values are not all equal."""
    import pandas as pd

    if isinstance(runs, pd.DataFrame):
        raise AnalysisError(
            "sensitivity indices need the sweep's design, which its manifest holds and a "
            "DataFrame does not: pass the sweep's directory or its Results."
        )
    if isinstance(runs, (str, os.PathLike)):
        runs = Results(Path(runs))
    if not isinstance(runs, Results):
        raise AnalysisError(
            f"expected a sweep: its Results or its directory, not {type(runs).__name__}."
        )
    manifest = runs.manifest
    design = dict(manifest.header.get("design") or {})
    if design.get("kind") not in SENSITIVITY_KINDS:
        raise AnalysisError(
            f"{runs.out_dir} is a {design.get('kind', 'unknown')} sweep; sensitivity "
            "indices need the runs of a Sobol' or Morris design: run gmat_sweep.sobol(...) "
            "or gmat_sweep.morris(...) (CLI: gmat-sweep sobol / morris)."
        )
    _check_complete(runs, design)
    n = manifest.n_runs
    values = np.full(n, np.nan)
    if isinstance(metric, str):
        column = per_run(runs, how, metric, report=report, kind=kind, with_parameters=False)
        values[column.index.to_numpy()] = column[metric].to_numpy(dtype=np.float64)
    elif callable(metric):
        for run_id, frame in _run_frames(open_source(runs, report, kind=kind)):
            if not np.isnan(values[run_id]):
                raise AnalysisError(f"run {run_id}'s rows are not together in the dataset.")
            values[run_id] = _number(metric(frame), run_id)
    else:
        raise AnalysisError(
            f"metric must be a channel name or a function of one run's rows, not "
            f"{type(metric).__name__}."
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise AnalysisError(
            f"the metric has no finite value in {len(bad)} of the {n} runs (run ids "
            f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}), and the estimators need "
            "one in every run; choose a metric every run defines."
        )
    if np.ptp(values) == 0.0:
        raise AnalysisError(
            f"the metric is {values[0]!r} in every run: it does not depend on the parameters "
            "swept, so it has no sensitivity to them."
        )
    return runs, design, values


def _check_complete(results: Results, design: dict[str, Any]) -> None:
    """Refuse a sweep with runs that did not end ok or were not run, saying how many."""
    codes = np.frombuffer(results.manifest.status_codes(), dtype=np.uint8)
    counts = np.bincount(codes, minlength=len(STATUSES))
    missing = len(codes) - int(counts[OK])
    if not missing:
        return
    parts = [f"{int(counts[c])} {STATUSES[c]}" for c in range(OK + 1, len(STATUSES)) if counts[c]]
    parts += [f"{int(counts[0])} not run yet"] if counts[0] else []
    label = "Sobol'" if design["kind"] == "sobol" else "Morris"
    out = results.out_dir
    raise AnalysisError(
        f"{label} estimators need every run of the design, and {missing} of the "
        f"{len(codes)} runs of {out} have no value ({', '.join(parts)}). Complete them with "
        f"`gmat-sweep resume {out}` (or Sweep.from_manifest(...).resume()) and analyse "
        f"again; `gmat-sweep show {out} --failed` says why runs failed."
    )


def _check_estimator_options(conf_level: float, num_resamples: int) -> None:
    if not isinstance(conf_level, (int, float)) or not 0.0 < conf_level < 1.0:
        raise AnalysisError(f"conf_level={conf_level!r} must be strictly between 0 and 1.")
    if isinstance(num_resamples, bool) or not isinstance(num_resamples, int) or num_resamples < 1:
        raise AnalysisError(f"num_resamples={num_resamples!r} must be a whole number >= 1.")


def _seed(design: dict[str, Any]) -> int | None:
    seed = design.get("seed")
    return seed if isinstance(seed, int) else None


def _inputs(results: Results, design: dict[str, Any]) -> npt.NDArray[np.float64]:
    """The design's table of runs (one row per run, one column per parameter)."""
    from gmat_sweep.designs import Samples, design_from_header

    table = results.out_dir / TABLE_NAME
    rebuilt = design_from_header(design, table_path=table if table.exists() else None)
    assert isinstance(rebuilt, Samples)
    return rebuilt.to_frame().to_numpy(dtype=np.float64)


def _number(value: Any, run_id: int) -> float:
    """A metric function's answer as a float, refusing anything but one real number."""
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "iuf":
        raise AnalysisError(
            f"the metric function returned {value!r} for run {run_id}; return one number per "
            "run, e.g. lambda run: run['Sat.Earth.Altitude'].min()."
        )
    return float(array)


def _run_frames(source: Source) -> Iterator[tuple[int, pd.DataFrame]]:
    """``(run_id, rows)`` of every ok run, the rows indexed by ``time``, one float64 column
    per numeric channel; a run's rows may span batches (they are consecutive)."""
    current, pieces = -1, list[tuple[Batch, int, int]]()
    for batch in source.batches(source.channels):
        ids = batch.ids
        cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(ids)], strict=True):
            run_id = int(ids[a])
            if run_id != current and pieces:
                yield current, _frame(source, pieces)
                pieces = []
            current = run_id
            pieces.append((batch, int(a), int(b)))
    if pieces:
        yield current, _frame(source, pieces)


def _frame(source: Source, pieces: list[tuple[Batch, int, int]]) -> pd.DataFrame:
    import pandas as pd

    time = np.concatenate([batch.time[a:b] for batch, a, b in pieces])
    data = {
        name: np.concatenate([batch.values[name][a:b] for batch, a, b in pieces])
        for name in source.channels
    }
    frame: pd.DataFrame = pd.DataFrame(data, index=source.time_index(time))
    return frame
