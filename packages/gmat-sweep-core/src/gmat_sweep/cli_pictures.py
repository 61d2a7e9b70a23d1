"""The ``gmat-sweep`` commands that look at a finished sweep: ``plot``, ``report``, ``archive``.

:func:`add_commands` adds them to the command group, given the decorator that turns
gmat-sweep's errors into messages and exit codes. Only click is imported until a
command runs; matplotlib only when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from gmat_sweep.cli_options import reduce_option, report_option

__all__ = ["PLOT_KINDS", "add_commands"]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: ``gmat-sweep plot`` KINDs, and how many ``--channel`` options each takes.
PLOT_KINDS = {
    "bands": "1+",
    "hist": "1",
    "ecdf": "1",
    "pairs": "1",
    "heatmap": "1",
    "convergence": "1",
    "failures": "0",
}


def draw(out: Path, what: str, options: dict[str, Any]) -> Any:
    """The figure ``gmat-sweep plot OUT WHAT`` draws, from the command's options.

    Raises:
        click.UsageError: the wrong number of ``--channel`` or ``--param`` options.
    """
    from gmat_sweep import plot
    from gmat_sweep.grammar import parse_assignment, parse_option_value

    channels: list[str] = list(options["channels"])
    params: list[str] | None = list(options["params"]) or None
    wanted = PLOT_KINDS[what]
    if wanted == "1" and len(channels) != 1:
        raise click.UsageError(f"plot {what} draws one channel: give --channel NAME once.")
    if wanted == "1+" and not channels:
        raise click.UsageError(f"plot {what} needs --channel NAME (repeatable).")
    if wanted == "0" and channels:
        raise click.UsageError(f"plot {what} draws no channel; leave out --channel.")
    how, report = options["how"], options["report"]
    if what == "bands":
        try:
            quantiles = [float(q) for q in options["quantiles"].split(",") if q.strip()]
        except ValueError:
            raise click.BadParameter(
                f"{options['quantiles']!r}: give numbers in [0, 1] separated by commas.",
                param_hint="--quantiles",
            ) from None
        return plot.bands(out, channels, quantiles, report=report)
    if what in ("hist", "ecdf"):
        return plot.distribution(
            out,
            channels[0],
            how=how,
            style="hist" if what == "hist" else "ecdf",
            coverage=options["coverage"],
            confidence=options["confidence"],
            side=options["side"],
            nan=options["nan"],
            report=report,
        )
    if what == "pairs":
        return plot.pairs(out, channels[0], params, how=how, report=report)
    if what == "heatmap":
        if params is not None and len(params) != 2:
            raise click.UsageError("plot heatmap takes --param twice (x, then y), or not at all.")
        at = dict(parse_assignment(text, "--at") for text in options["at"])
        x, y = params if params is not None else (None, None)
        fixed = {name: parse_option_value(value) for name, value in at.items()}
        return plot.heatmap(out, channels[0], x, y, how=how, at=fixed, report=report)
    if what == "convergence":
        return plot.convergence(
            out, channels[0], how=how, confidence=options["confidence"], report=report
        )
    return plot.failures(out, params)


def add_commands(main: click.Group, guard: Decorator) -> None:
    """Add ``plot``, ``report`` and ``archive`` to ``main``."""

    @main.command("plot")
    @click.argument("out", type=click.Path(path_type=Path))
    @click.argument("what", metavar="KIND", type=click.Choice(list(PLOT_KINDS)))
    @click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        required=True,
        help="The picture to write: a .png or .svg file.",
    )
    @click.option(
        "--channel",
        "channels",
        multiple=True,
        metavar="NAME",
        help="The channel (metric) drawn; bands: repeatable.",
    )
    @click.option(
        "--param",
        "params",
        multiple=True,
        metavar="NAME",
        help="pairs, failures: parameters to draw (repeatable); heatmap: x then y.",
    )
    @reduce_option
    @click.option(
        "--quantiles",
        default="0.01,0.25,0.5,0.75,0.99",
        show_default=True,
        help="bands: the quantiles, paired from the outside in.",
    )
    @click.option(
        "--coverage",
        type=float,
        default=None,
        help="hist, ecdf: mark the tolerance bound of this coverage.",
    )
    @click.option(
        "--confidence",
        type=float,
        default=0.95,
        show_default=True,
        help="Of the tolerance bound; convergence: of the mean's interval.",
    )
    @click.option(
        "--side",
        type=click.Choice(["upper", "lower", "two-sided"]),
        default="upper",
        show_default=True,
    )
    @click.option(
        "--nan",
        type=click.Choice(["raise", "omit", "worst"]),
        default="raise",
        show_default=True,
        help="The bound's runs without a value (as for stats).",
    )
    @click.option(
        "--at",
        "at",
        multiple=True,
        metavar="NAME=VALUE",
        help="heatmap: fix another parameter of the grid (repeatable).",
    )
    @report_option
    @click.option("--dpi", type=float, default=100, show_default=True, help="PNG resolution.")
    @guard
    def plot_command(out: Path, what: str, output: Path, dpi: float, **options: Any) -> None:
        """Draw a picture of the sweep in OUT: bands, hist, ecdf, pairs, heatmap,
        convergence or failures."""
        from gmat_sweep.plot import save

        if output.suffix.lower() not in (".png", ".svg"):
            raise click.UsageError(f"-o {output}: write a .png or .svg file.")
        figure = draw(out, what, options)
        save(figure, output, dpi=dpi)
        click.echo(f"wrote {output}")

    @main.command("report")
    @click.argument("out", type=click.Path(path_type=Path))
    @click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path),
        default=None,
        help="The HTML file to write (default: OUT/report.html).",
    )
    @click.option(
        "--channel",
        "channels",
        multiple=True,
        metavar="NAME",
        help="Channels to draw (repeatable; default: those that differ between runs).",
    )
    @report_option
    @click.option(
        "--coverage",
        type=float,
        default=0.95,
        show_default=True,
        help="Of the final values' two-sided tolerance interval.",
    )
    @click.option("--confidence", type=float, default=0.95, show_default=True)
    @guard
    def report_command(
        out: Path, output: Path | None, channels: Sequence[str], **options: Any
    ) -> None:
        """Write one self-contained HTML page about the sweep in OUT (opens offline)."""
        from gmat_sweep.report import write_report

        path = write_report(out, output, channels=list(channels) or None, **options)
        click.echo(f"wrote {path}")

    @main.command("archive")
    @click.argument("out", type=click.Path(path_type=Path))
    @click.argument("bundle", type=click.Path(path_type=Path))
    @click.option("--logs", is_flag=True, help="Also the logs of runs that did not end ok.")
    @click.option(
        "--gmat-files",
        is_flag=True,
        help="Also the GMAT files kept with --keep-gmat-files (OUT/runs/).",
    )
    @guard
    def archive_command(out: Path, bundle: Path, logs: bool, gmat_files: bool) -> None:
        """Bundle the sweep in OUT as one zip file (with SHA256SUMS) that is a sweep again
        once unzipped."""
        from gmat_sweep.archive import archive

        made = archive(out, bundle, logs=logs, gmat_files=gmat_files)
        click.echo(
            f"wrote {made.path}: {made.files} files, {made.size / 2**20:.1f} MiB before "
            "compression, checksums in SHA256SUMS"
        )
