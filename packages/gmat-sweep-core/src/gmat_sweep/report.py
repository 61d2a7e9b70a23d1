"""``gmat-sweep report``: one self-contained HTML page about a sweep, to open offline.

:func:`write_report` writes (and :func:`render_report` returns) a page with:

- what was swept: script and its sha256, design, seed, settings, the software versions
  the sweep recorded and the workers' fingerprints, the sessions and their backends;
- how the runs ended: counts by status, and each run that did not end ok with its error,
  the telling lines of its log and the end of its saved log (``logs/``);
- the parameters: the design's definition and the range of values the runs ran with;
- the main channels over time (percentile bands, :func:`gmat_sweep.analysis.bands`) and
  their final values (histograms and a table, with the two-sided Wilks tolerance
  interval of ``coverage`` at ``confidence`` where the runs suffice);
- a Monte Carlo's convergence, a failure map when runs did not end ok, and, for a
  Sobol' or Morris sweep, the sensitivity indices of the main channels (when this
  gmat-sweep has ``gmat_sweep.analysis.sensitivity``);
- the commands that resume, extend, inspect and archive it.

The *main channels* are those named, else the output's numeric channels whose 1st and
99th percentiles across runs differ somewhere by more than rounding (a relative 1e-9),
at most ``max_channels``, in the output's order. Every string
from the sweep is escaped; figures are inline PNGs; the page loads nothing else.
"""

from __future__ import annotations

import datetime
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gmat_sweep import report_html as h
from gmat_sweep._version import __version__
from gmat_sweep.errors import GmatSweepError
from gmat_sweep.report_sweep import commands, parameter_ranges, run_outcomes, what_was_swept
from gmat_sweep.results import Results

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_NAME", "SENSITIVITY_KINDS", "render_report", "write_report"]

#: Where :func:`write_report` writes by default, inside the sweep directory.
DEFAULT_NAME = "report.html"
#: Designs whose report shows sensitivity indices.
SENSITIVITY_KINDS = ("sobol", "morris")
#: Differences between runs smaller than this, relative to a channel's size, are rounding.
_ROUNDING = 1e-9


def write_report(
    out: str | os.PathLike[str], path: str | os.PathLike[str] | None = None, **options: Any
) -> Path:
    """Write the report of the sweep in ``out`` to ``path`` (default ``out/report.html``),
    replacing a file there; returns the path. ``options`` as for :func:`render_report`.

    Raises: as :func:`render_report`; OSError when ``path`` cannot be written.
    """
    target = Path(path) if path is not None else Path(out) / DEFAULT_NAME
    page = render_report(out, **options)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def render_report(
    out: str | os.PathLike[str],
    *,
    channels: Sequence[str] | None = None,
    report: str | None = None,
    max_channels: int = 6,
    coverage: float = 0.95,
    confidence: float = 0.95,
) -> str:
    """The report's HTML (see the module docstring).

    Args:
        out: The sweep directory.
        channels: The channels to draw (default: the main channels).
        report: Which output (as for ``load_results``; default: the first by name).
        max_channels: Main channels drawn at most, when ``channels`` is not given.
        coverage, confidence: Of the two-sided tolerance interval of final values.

    Raises:
        FileNotFoundError: ``out`` holds no sweep.
        ManifestCorruptError: its manifest cannot be read.
        AnalysisError: a named channel that the output does not have.
        PlotUnavailableError: matplotlib is not installed.
    """
    from gmat_sweep.analysis.runs import parameters
    from gmat_sweep.plot._figure import require_matplotlib

    require_matplotlib()
    where = Path(out)
    results = Results(where)
    manifest = results.manifest
    kind = results.default_kind()
    names = results.output_names(kind)
    output = report if report is not None else (names[0] if names else None)
    others = [f"{kind} {n}" for n in names if n != output]
    others += [k.replace("__", " ", 1) for k in sorted(manifest.parts) if not k.startswith(kind)]
    header = manifest.header
    title = f"Sweep {header.get('sweep_id', '?')}: {(header.get('script') or {}).get('name', '?')}"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>{h.text(title)}</h1>",
        h.paragraph(
            f"Report of {where}, made {stamp} by gmat-sweep-core {__version__}.", css="note"
        ),
        what_was_swept(where, manifest, f"{kind} {output}" if output else None, others),
        run_outcomes(where, manifest),
        parameter_ranges(manifest, parameters(results)),
    ]
    if output is not None:
        body += _data_sections(results, output, kind, channels, max_channels, coverage, confidence)
    else:
        body.append(h.section("Channels", h.paragraph("No run ended ok: nothing to draw.")))
    body.append(commands(where, manifest))
    return h.page(title, body)


def _data_sections(
    results: Results,
    output: str,
    kind: str,
    channels: Sequence[str] | None,
    max_channels: int,
    coverage: float,
    confidence: float,
) -> list[str]:
    """Bands, final values, convergence, failure map and sensitivity indices."""
    from gmat_sweep import analysis
    from gmat_sweep.analysis.source import open_source
    from gmat_sweep.plot.timeline import DEFAULT_QUANTILES, draw_bands

    source = open_source(results, output, kind=kind)
    candidates = list(channels) if channels is not None else list(source.channels)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = analysis.bands(results, candidates, DEFAULT_QUANTILES, report=output, kind=kind)
    notes += [h.paragraph(str(w.message), css="note") for w in caught]
    main = candidates if channels is not None else _varying(table, candidates)[:max_channels]
    if channels is None and len(main) < len(candidates):
        left = [c for c in candidates if c not in main]
        notes.append(
            h.paragraph(
                f"Not drawn: {', '.join(left)} (the same in every run, or "
                f"past the first {max_channels} that differ).",
                css="note",
            )
        )
    bands = [
        h.figure(
            draw_bands(table, [c], DEFAULT_QUANTILES),
            f"{c}: 1-99 % and 25-75 % bands and the median across the ok runs",
        )
        for c in main
    ]
    sections = [h.section(f"Channels over time ({kind} {output})", *notes, *bands)]
    final = analysis.final(results, main, report=output, kind=kind, with_parameters=False)
    sections.append(_final_values(final, main, coverage, confidence))
    design = results.manifest.header.get("design") or {}
    if design.get("kind") == "monte_carlo" and main:
        from gmat_sweep.plot.running import draw_convergence

        table = analysis.convergence(final[main[0]])
        sections.append(
            h.section(
                "Monte Carlo convergence",
                h.figure(
                    draw_convergence(table, main[0]),
                    f"{main[0]} (last row): running mean, its 95 % interval and standard error",
                ),
            )
        )
    failure_map = _failure_map(results)
    if failure_map:
        sections.append(failure_map)
    indices = sensitivity_section(results, main, output, kind)
    if indices:
        sections.append(indices)
    return sections


def _varying(table: pd.DataFrame, channels: list[str]) -> list[str]:
    """The channels whose 1 % and 99 % across runs differ at some epoch by more than
    rounding (a relative 1e-9 of the channel's size)."""
    import numpy as np

    varying = []
    for channel in channels:
        low = table[(channel, "1%")].to_numpy(float)
        high = table[(channel, "99%")].to_numpy(float)
        scale = np.nanmax(np.abs(np.r_[low, high]), initial=0.0)
        if np.nanmax(high - low, initial=0.0) > _ROUNDING * max(scale, 1e-300):
            varying.append(channel)
    return varying


def _final_values(
    final: pd.DataFrame, channels: list[str], coverage: float, confidence: float
) -> str:
    """A table of the final values' statistics and a histogram of each, with its
    two-sided tolerance interval drawn where there are runs enough."""
    import numpy as np

    from gmat_sweep.analysis.tolerance import runs_needed, tolerance_bound
    from gmat_sweep.plot.spread import draw_distribution

    rows: list[tuple[Any, ...]] = []
    figures: list[str] = []
    needed = runs_needed(coverage, confidence, "two-sided")
    for channel in channels:
        values = final[channel].to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[np.isfinite(values)]
        if not len(present):
            rows.append((channel, 0, "", "", "", "", "", "no run has a value"))
            continue
        bound = None
        if len(present) >= needed:
            bound = tolerance_bound(present, coverage, confidence, "two-sided")
            low, high = bound.value  # type: ignore[misc]
            interval = f"[{low:.6g}, {high:.6g}]"
        else:
            interval = f"needs {needed} runs, has {len(present)}"
        std = float(np.std(present, ddof=1)) if len(present) > 1 else float("nan")
        q1, q50, q99 = np.quantile(present, (0.01, 0.5, 0.99))
        rows.append(
            (
                channel,
                len(present),
                float(present.min()),
                float(present.mean()),
                std,
                float(present.max()),
                f"{q1:.6g} / {q50:.6g} / {q99:.6g}",
                interval,
            )
        )
        figures.append(
            h.figure(
                draw_distribution(values, channel, bound=bound, title=f"{channel} (last row)"),
                f"{channel}: the value in each run's last row",
            )
        )
    missing = int((final["__status"] != "ok").sum())
    note = (
        f"{missing} runs that did not end ok have no final value and are left out."
        if missing
        else "Every run ended ok."
    )
    interval = f"{coverage:.6g} / {confidence:.6g} tolerance interval"
    return h.section(
        "Final values",
        h.paragraph(
            f"Each run's last row. {note} The interval is Wilks' two-sided "
            f"non-parametric interval of {coverage:.6g} coverage at "
            f"{confidence:.6g} confidence."
        ),
        h.table(["channel", "runs", "min", "mean", "std", "max", "1% / 50% / 99%", interval], rows),
        *figures,
    )


def _failure_map(results: Results) -> str | None:
    counts = results.manifest.status_counts()
    if not sum(n for s, n in counts.items() if s != "ok"):
        return None
    from gmat_sweep.plot.failmap import failures

    try:
        drawn = failures(results)
    except GmatSweepError as exc:
        return h.section("Failure map", h.paragraph(str(exc), css="note"))
    return h.section("Failure map", h.figure(drawn, "each run by its parameters, by status"))


def sensitivity_section(
    results: Results, channels: Sequence[str], output: str | None, kind: str | None
) -> str | None:
    """The sensitivity indices of each channel, for a Sobol' or Morris sweep (None for
    another design). Uses ``gmat_sweep.analysis.sensitivity`` if this gmat-sweep has it;
    a sweep it cannot analyse (runs not ok, SALib missing) gets the reason instead."""
    design = results.manifest.header.get("design") or {}
    if design.get("kind") not in SENSITIVITY_KINDS:
        return None
    from gmat_sweep import analysis

    try:
        compute = getattr(analysis, "sensitivity", None)
    except ImportError:
        compute = None
    if compute is None:
        return h.section(
            "Sensitivity indices",
            h.paragraph(
                "This gmat-sweep-core has no gmat_sweep.analysis.sensitivity to compute them."
            ),
        )
    parts = []
    for channel in channels:
        try:
            table = compute(results, channel, report=output, kind=kind)
        except (GmatSweepError, ImportError) as exc:
            parts.append(h.paragraph(f"{channel}: {exc}", css="note"))
            continue
        rows = [
            (str(i), *(float(v) for v in row))
            for i, row in zip(table.index, table.to_numpy(), strict=True)
        ]
        parts.append(
            h.section(channel, h.table(["parameter", *map(str, table.columns)], rows), level=3)
        )
    label = "Sobol'" if design["kind"] == "sobol" else "Morris"
    intro = h.paragraph(
        f"{label} indices of each channel's last row "
        "(gmat_sweep.analysis.sensitivity, SALib's estimators)."
    )
    return h.section("Sensitivity indices", intro, *parts)
