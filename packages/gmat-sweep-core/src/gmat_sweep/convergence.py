"""Did a run's ``Target`` / ``Optimize`` sequences converge, and what that means for it.

GMAT does not stop a mission whose solver fails to converge: after ``MaximumIterations``
it goes on with the last iterate, so the run's reports look like a good run's. This
module makes that visible:

- In the GMAT host, :func:`solver_outputs` condenses each solver's iteration log
  (gmat-run's ``solver_runs`` frames, whose ``attrs["converged"]`` and last ``status``
  say how the solver ended) into a few JSON values per solver (:func:`solver_summary`;
  ``converged`` None for a solver that did not solve, e.g. ``SolveMode =
  RunInitialGuess``, whose log gmat-run cannot read); they travel back in
  :attr:`RunOutcome.solvers <gmat_sweep.spec.RunOutcome.solvers>` and are recorded on
  the run's manifest line (``"solvers"``), ok or not.
- In the driver, :func:`judge` turns an ``ok`` outcome with a solver that did not
  converge into ``unconverged`` (no rows kept, an error saying which solver, how it
  ended and its worst goal), unless the sweep accepts unconverged runs
  (``accept_unconverged=True``; CLI ``--accept-unconverged``; recorded in the
  manifest header, so ``resume`` judges the same way). ``unconverged`` runs are rerun
  by ``resume`` like failures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from gmat_sweep.manifest import Manifest
    from gmat_sweep.spec import RunOutcome

__all__ = [
    "convergence_table",
    "describe_solver",
    "judge",
    "solver_outputs",
    "solver_summaries",
    "solver_summary",
    "unconverged",
]

_RESIDUAL = "_residual"
_TOLERANCE = "_tolerance"


def _number(value: Any) -> float | None:
    """``value`` as a finite float (the manifest holds no NaN), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def solver_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """How one solver ended, from its gmat-run ``solver_runs`` frame.

    Returns ``{"converged": bool, "status": str, "iterations": int}``: ``converged`` is
    gmat-run's verdict (``attrs["converged"]``: explicit for Yukon, the last iteration's
    residuals within tolerance for a DifferentialCorrector); ``status`` the last row's
    (``"converged"``, ``"max_iter"``, ``"failed"``; ``"no iterations"`` for an empty
    log). With goals, also ``worst_goal``, ``residual`` and ``tolerance``: the goal of
    the last iteration furthest outside (or nearest to) its tolerance.
    """
    attrs = frame.attrs
    converged = bool(attrs.get("converged", False)) and not frame.empty
    if frame.empty:
        status = "no iterations"
    elif "status" in frame.columns:
        status = str(frame["status"].iloc[-1])
    else:
        status = "converged" if converged else "failed"
    iterations = attrs.get("n_iterations")
    summary: dict[str, Any] = {
        "converged": converged,
        "status": status,
        "iterations": int(iterations) if iterations is not None else len(frame),
    }
    if frame.empty:
        return summary
    last = frame.iloc[-1]
    worst: tuple[float, str, float, float | None] | None = None
    for column in frame.columns:
        name = str(column)
        if not name.endswith(_RESIDUAL):
            continue
        goal = name[: -len(_RESIDUAL)]
        residual = _number(last[column])
        if residual is None:
            continue
        tolerance = _number(last[goal + _TOLERANCE]) if goal + _TOLERANCE in frame else None
        score = abs(residual) / tolerance if tolerance else abs(residual)
        if worst is None or score > worst[0]:
            worst = (score, goal, residual, tolerance)
    if worst is not None:
        summary.update(worst_goal=worst[1], residual=worst[2], tolerance=worst[3])
    return summary


def solver_summaries(solver_runs: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """:func:`solver_summary` of every solver of a run (gmat-run's ``solver_runs``)."""
    return {str(name): solver_summary(solver_runs[name]) for name in solver_runs}


#: What a solver log says when the solver did not iterate at all (``SolveMode =
#: RunInitialGuess``): gmat-run cannot parse such a log (it has no iterations).
_NOT_SOLVED = re.compile(r"\*\*\*\s+\w+ Completed in 0 iterations")


def _not_solved(path: Any) -> bool:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")[:_SNIFF_CHARS]
    except (OSError, TypeError):
        return False
    return "\nIteration " not in text and _NOT_SOLVED.search(text) is not None


_SNIFF_CHARS = 100_000


def solver_outputs(
    results: Any,
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]], list[str]]:
    """The solver outputs of a gmat-run ``Results``: ``(frames, summaries, warnings)``.

    A solver whose log shows it did not iterate (``SolveMode = RunInitialGuess``) has no
    frame, a summary with ``converged`` None and status ``"not solved"``, and a warning.
    Any other log is parsed by gmat-run (its errors propagate: the run fails).
    """
    frames: dict[str, pd.DataFrame] = {}
    summaries: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    paths: Mapping[str, Any] = getattr(results, "solver_paths", {}) or {}
    for name in results.solver_runs:
        if _not_solved(paths.get(name)):
            summaries[str(name)] = {"converged": None, "status": "not solved", "iterations": 0}
            warnings.append(
                f"solver {name!r} did not iterate (its log says it completed in 0 iterations, "
                "as with SolveMode = RunInitialGuess): it has no solver output"
            )
            continue
        frame = results.solver_runs[name]
        frames[str(name)] = frame
        summaries[str(name)] = solver_summary(frame)
    return frames, summaries, warnings


def describe_solver(name: str, summary: Mapping[str, Any]) -> str:
    """One solver's ending in words: ``"DC: max_iter after 2 iterations (Sat.RadApo
    residual 33.54, tolerance 0.1)"``."""
    text = f"{name}: {summary.get('status', '?')} after {summary.get('iterations', '?')} iterations"
    goal = summary.get("worst_goal")
    if goal is not None:
        tolerance = summary.get("tolerance")
        within = f", tolerance {tolerance:g}" if isinstance(tolerance, float) else ""
        text += f" ({goal} residual {summary.get('residual'):.6g}{within})"
    return text


def unconverged(solvers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Names of the solvers that tried and did not converge, in order (a solver that did
    not solve, ``converged`` None, is not one of them)."""
    return [name for name, summary in solvers.items() if summary.get("converged") is False]


def judge(outcome: RunOutcome, *, accept_unconverged: bool) -> RunOutcome:
    """The outcome as the sweep records it: an ``ok`` run with a solver that did not
    converge becomes ``unconverged`` (its rows dropped, an ``Unconverged`` error naming
    the solvers), unless ``accept_unconverged``. Any other outcome is returned as is."""
    from gmat_sweep.spec import ErrorInfo, Status

    if accept_unconverged or outcome.status is not Status.OK:
        return outcome
    names = unconverged(outcome.solvers)
    if not names:
        return outcome
    details = "; ".join(describe_solver(n, outcome.solvers[n]) for n in names)
    message = (
        f"the Target/Optimize sequence did not converge ({details}); GMAT went on with the "
        "last iterate, so this run's outputs are not a solution. Raise the solver's "
        "MaximumIterations, loosen the goal's Tolerance or change the initial guess, then "
        "resume; or accept such runs with accept_unconverged=True (CLI: "
        "--accept-unconverged) when the sweep starts."
    )
    error = ErrorInfo("Unconverged", message)
    return replace(outcome, status=Status.UNCONVERGED, tables={}, error=error)


_TABLE_COLUMNS = ("converged", "status", "iterations", "worst_goal", "residual", "tolerance")


def convergence_table(manifest: Manifest) -> pd.DataFrame:
    """How each solver of each run's latest attempt ended, from the manifest.

    One row per (run, solver) that recorded solvers, indexed ``(run_id, solver)``, with
    the columns of :func:`solver_summary` (``converged``, nullable boolean: <NA> for
    a solver that did not solve; ``status``,
    ``iterations``, ``worst_goal``, ``residual``, ``tolerance``; missing where the
    solver had no goals) and the run's ``__status``. Runs of a mission without solvers
    have no rows. Reads the run lines as a stream.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    index: list[tuple[int, str]] = []
    for run_id, entry in sorted(manifest.latest_entries().items()):
        for name, summary in (entry.get("solvers") or {}).items():
            index.append((run_id, str(name)))
            row = {column: summary.get(column) for column in _TABLE_COLUMNS}
            row["__status"] = entry.get("status")
            rows.append(row)
    frame = pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=["run_id", "solver"]),
        columns=[*_TABLE_COLUMNS, "__status"],
    )
    table: pd.DataFrame = frame.astype(
        {"converged": "boolean", "residual": float, "tolerance": float}
    )
    return table
