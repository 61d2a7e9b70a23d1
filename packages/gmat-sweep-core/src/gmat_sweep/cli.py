"""The ``gmat-sweep`` command line (click).

Exit codes: 0 every run ended ok; 1 some runs did not (``--allow-failures`` makes
that 0); 2 bad usage or configuration; 3 corrupt manifest; 4 backend not
installed; 130 interrupted (finished runs are kept; ``resume`` continues).

Heavy modules (pandas, pyarrow, backends) are imported inside the commands, so
``gmat-sweep --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gmat_sweep._version import __version__
from gmat_sweep.cli_options import reduce_option, report_option
from gmat_sweep.cli_pictures import add_commands as add_picture_commands
from gmat_sweep.cli_sensitivity import add_commands as add_sensitivity_commands

if TYPE_CHECKING:
    from gmat_sweep.designs import Design
    from gmat_sweep.orchestrator import Sweep

__all__ = ["EXIT_BACKEND_MISSING", "EXIT_CORRUPT", "EXIT_RUNS_FAILED", "EXIT_USAGE", "main"]

EXIT_RUNS_FAILED = 1
EXIT_USAGE = 2
EXIT_CORRUPT = 3
EXIT_BACKEND_MISSING = 4
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _guard(func: F) -> F:
    """Turn gmat-sweep's errors into a message and the documented exit code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gmat_sweep.errors import (
            BackendError,
            BackendNotInstalledError,
            GmatSweepError,
            ManifestCorruptError,
            SweepConfigError,
        )

        try:
            return func(*args, **kwargs)
        except BackendNotInstalledError as exc:
            _fail(str(exc), EXIT_BACKEND_MISSING)
        except ManifestCorruptError as exc:
            _fail(str(exc), EXIT_CORRUPT)
        except (SweepConfigError, BackendError, FileNotFoundError) as exc:
            _fail(str(exc), EXIT_USAGE)
        except GmatSweepError as exc:
            _fail(str(exc), EXIT_USAGE)
        except KeyboardInterrupt:
            out = kwargs.get("out")
            where = f" gmat-sweep resume {out}" if out else " gmat-sweep resume OUT"
            _fail(f"interrupted. Finished runs are saved; continue with:{where}", EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _sweep_options(func: F) -> F:
    """Options shared by every command that runs runs."""
    options = [
        click.option(
            "--backend", default=None, help="Backend name (default: local). See `backends`."
        ),
        click.option(
            "--backend-opt",
            "backend_opts",
            multiple=True,
            metavar="KEY=VALUE",
            help="Backend constructor option (repeatable; VALUE parsed as JSON if it can).",
        ),
        click.option(
            "--workers",
            type=int,
            default=None,
            help="Worker processes (local backend; mpi: workers to spawn).",
        ),
        click.option(
            "--timeout",
            type=float,
            default=None,
            help="Seconds one run may take (resume/extend: as recorded unless given).",
        ),
        click.option(
            "--max-retries",
            type=int,
            default=None,
            help="Resubmissions of a lost run per session (new sweeps: 2; resume/extend: "
            "as recorded).",
        ),
        click.option("--no-progress", is_flag=True, help="Do not show the live progress line."),
        click.option(
            "--allow-failures", is_flag=True, help="Exit 0 even if some runs did not end ok."
        ),
        click.option(
            "--report", default=None, help="ReportFile to show when the script has several."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _new_sweep_options(func: F) -> F:
    options = [
        click.option(
            "--out", type=click.Path(path_type=Path), default=None, help="Sweep directory."
        ),
        click.option("--overwrite", is_flag=True, help="Replace a sweep already in --out."),
        click.option(
            "--no-validate", is_flag=True, help="Skip checking the script in GMAT here first."
        ),
        click.option(
            "--keep-gmat-files",
            is_flag=True,
            help="Keep each run's GMAT files in OUT/runs/<id>/ (workers must see OUT).",
        ),
        click.option(
            "--keep",
            "keep",
            multiple=True,
            metavar="CHANNEL",
            help="Keep only this channel of the outputs (repeatable; default: all).",
        ),
        click.option(
            "--rows",
            default="all",
            show_default=True,
            help="Rows of each run to keep: all, first, last or every:N.",
        ),
        click.option(
            "--postprocess",
            default=None,
            metavar="MODULE:FUNCTION|NAME",
            help="Function run on the worker that maps a run's outputs to what to keep.",
        ),
        click.option(
            "--accept-unconverged",
            is_flag=True,
            help="Count runs whose Target/Optimize did not converge as ok (default: "
            "'unconverged', rerun by resume). Recorded for resume.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return _sweep_options(func)


def _backend_options(backend_opts: Sequence[str], workers: int | None) -> dict[str, Any]:
    from gmat_sweep.grammar import parse_assignment, parse_option_value

    options: dict[str, Any] = {}
    for text in backend_opts:
        key, value = parse_assignment(text, "--backend-opt")
        options[key] = parse_option_value(value)
    if workers is not None:
        options["workers"] = workers
    return options


def _finish(
    sweep: Sweep, *, allow_failures: bool, run: Callable[[], Any], report: str | None
) -> None:
    """Run, print the summary and where things are, and exit with the right code."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Failed runs: gmat-sweep show")
        results = run()
    summary = sweep.summary()
    click.echo(f"{summary} -> {sweep.out}")
    _show_head(results, report)
    if summary.all_ok:
        return
    shown = ", ".join(str(r) for r in summary.not_ok[:10])
    more = " ..." if len(summary.not_ok) > 10 else ""
    click.echo(
        f"runs not ok: {shown}{more}\n"
        f"  details: gmat-sweep show {sweep.out} --failed\n"
        f"  rerun them: gmat-sweep resume {sweep.out}",
        err=True,
    )
    if not allow_failures:
        sys.exit(EXIT_RUNS_FAILED)


def _show_head(results: Any, report: str | None) -> None:
    """The first rows of the sweep's DataFrame, when it fits in memory."""
    from gmat_sweep.errors import ResultsTooLargeError

    try:
        frame = results.to_pandas(report)
    except ResultsTooLargeError:
        click.echo(
            f"(too large to show here: read it with gmat_sweep.Results({str(results.out_dir)!r}))"
        )
        return
    if not frame.empty:
        click.echo(frame.head(8).to_string())


def _start(
    script: Path,
    design: Design,
    *,
    out: Path | None,
    overwrite: bool,
    no_validate: bool,
    keep_gmat_files: bool,
    keep: Sequence[str],
    rows: str,
    postprocess: str | None,
    accept_unconverged: bool,
    backend: str | None,
    backend_opts: Sequence[str],
    workers: int | None,
    timeout: float | None,
    max_retries: int | None,
    no_progress: bool,
    allow_failures: bool,
    report: str | None,
) -> None:
    from gmat_sweep.orchestrator import Sweep

    sweep = Sweep(
        script,
        design,
        out=out,
        backend=backend,
        backend_options=_backend_options(backend_opts, workers),
        timeout=timeout,
        max_retries=2 if max_retries is None else max_retries,
        progress=None if not no_progress else False,
        overwrite=overwrite,
        validate=not no_validate,
        keep_gmat_files=keep_gmat_files,
        keep=list(keep) or None,
        rows=rows,
        postprocess=postprocess,
        accept_unconverged=accept_unconverged,
    )
    _finish(sweep, allow_failures=allow_failures, run=lambda: sweep.run(lazy=True), report=report)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gmat-sweep")
def main() -> None:
    """Run a GMAT mission many times and collect every run's outputs.

    Each sweep writes a directory: manifest.jsonl (the record that makes it
    reproducible and resumable), script/ (the script it ran), data/ (one Parquet
    dataset per output, every run's rows) and logs/ (the logs of runs that failed).
    """


@main.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.option(
    "--grid",
    "grids",
    multiple=True,
    required=True,
    metavar="NAME=SPEC",
    help='lo:hi:count | lo:hi:step=S | v1,v2,... | JSON list ["a", "b"] (repeatable).',
)
@_new_sweep_options
@_guard
def run(script: Path, grids: Sequence[str], **options: Any) -> None:
    """Full-factorial grid over one or more fields (every combination is a run)."""
    from gmat_sweep.designs import Grid
    from gmat_sweep.grammar import parse_assignments, parse_grid_values

    _start(script, Grid(parse_assignments(grids, "--grid", parse_grid_values)), **options)


@main.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.option(
    "--samples",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CSV or Parquet table: one column per field, one row per run.",
)
@_new_sweep_options
@_guard
def explicit(script: Path, samples: Path, **options: Any) -> None:
    """One run per row of a table of field values."""
    import pandas as pd

    from gmat_sweep.designs import Samples
    from gmat_sweep.errors import DesignError

    suffix = samples.suffix.lower()
    if suffix == ".csv":
        table = pd.read_csv(samples)
    elif suffix in (".parquet", ".pq"):
        table = pd.read_parquet(samples)
    else:
        raise DesignError(f"--samples {samples}: use a .csv or .parquet file")
    _start(script, Samples(table), **options)


@main.command("monte-carlo")
@click.argument("script", type=click.Path(path_type=Path))
@click.option("--n", "n", type=int, required=True, help="Number of runs.")
@click.option(
    "--perturb",
    "perturbs",
    multiple=True,
    required=True,
    metavar="NAME=DIST:a:b",
    help="normal:mu:sigma | uniform:lo:hi | lognormal:mu:sigma (repeatable); a group "
    "N1,N2,...=mvnormal:M1,M2,...:COVFILE | N1,N2,N3=pointing:X,Y,Z:SIGMA_REL:SIGMA_DEG.",
)
@click.option("--seed", type=int, default=None, help="Seed (drawn and recorded if omitted).")
@_new_sweep_options
@_guard
def monte_carlo(
    script: Path, n: int, perturbs: Sequence[str], seed: int | None, **options: Any
) -> None:
    """Monte Carlo dispersion: n runs with fields drawn from distributions."""
    from gmat_sweep.designs import MonteCarlo
    from gmat_sweep.grammar import parse_perturbations

    _start(script, MonteCarlo(n, parse_perturbations(perturbs), seed=seed), **options)


@main.command("latin-hypercube")
@click.argument("script", type=click.Path(path_type=Path))
@click.option("--n", "n", type=int, required=True, help="Number of runs.")
@click.option(
    "--bounds",
    "bounds_",
    multiple=True,
    required=True,
    metavar="NAME=lo:hi",
    help="lo:hi, or a distribution as for monte-carlo --perturb (repeatable).",
)
@click.option("--seed", type=int, default=None, help="Seed (drawn and recorded if omitted).")
@_new_sweep_options
@_guard
def latin_hypercube(
    script: Path, n: int, bounds_: Sequence[str], seed: int | None, **options: Any
) -> None:
    """Latin hypercube: n runs stratified over each field's range."""
    from gmat_sweep.designs import LatinHypercube
    from gmat_sweep.grammar import parse_assignments, parse_bounds

    bounds = parse_assignments(bounds_, "--bounds", parse_bounds)
    _start(script, LatinHypercube(n, bounds, seed=seed), **options)


def _reopen(
    out: Path,
    backend: str | None,
    backend_opts: Sequence[str],
    workers: int | None,
    timeout: float | None,
    max_retries: int | None,
    no_progress: bool,
) -> Sweep:
    from gmat_sweep.orchestrator import Sweep

    return Sweep.from_manifest(
        out,
        backend=backend,
        backend_options=_backend_options(backend_opts, workers),
        timeout="recorded" if timeout is None else timeout,
        max_retries=max_retries,
        progress=None if not no_progress else False,
    )


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@_sweep_options
@_guard
def resume(out: Path, allow_failures: bool, report: str | None, **options: Any) -> None:
    """Rerun the runs of OUT that are missing or did not end ok (any backend)."""
    sweep = _reopen(out, **options)
    _finish(
        sweep, allow_failures=allow_failures, run=lambda: sweep.resume(lazy=True), report=report
    )


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--n", "n", type=int, required=True, help="Number of runs to add.")
@_sweep_options
@_guard
def extend(out: Path, n: int, allow_failures: bool, report: str | None, **options: Any) -> None:
    """Add n runs to the Monte Carlo sweep in OUT (same as a fresh larger sweep)."""
    sweep = _reopen(out, **options)
    _finish(
        sweep,
        allow_failures=allow_failures,
        run=lambda: sweep.extend(n, lazy=True),
        report=report,
    )


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--failed", is_flag=True, help="List the runs that did not end ok, with errors and logs."
)
@click.option("--run", "run_id", type=int, default=None, help="Show everything about one run.")
@_guard
def show(out: Path, failed: bool, run_id: int | None) -> None:
    """Summarise the sweep in OUT."""
    from gmat_sweep.show import describe_failed, describe_run, describe_sweep

    if run_id is not None:
        click.echo(describe_run(out, run_id))
    elif failed:
        click.echo(describe_failed(out))
    else:
        click.echo(describe_sweep(out))


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("channel")
@reduce_option
@click.option("--coverage", type=float, default=0.99, show_default=True)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option(
    "--side", type=click.Choice(["upper", "lower", "two-sided"]), default="upper", show_default=True
)
@click.option("--order", type=int, default=None, help="Order statistic (default: the highest).")
@click.option(
    "--nan",
    type=click.Choice(["raise", "omit", "worst"]),
    default="raise",
    show_default=True,
    help="Runs without a value (not ok): refuse, leave out, or count as beyond the bound.",
)
@report_option
@_guard
def stats(out: Path, channel: str, **options: Any) -> None:
    """CHANNEL's value per run in OUT, summarised, with its Wilks tolerance bound."""
    from gmat_sweep.analysis.describe import stat_lines

    for line in stat_lines(out, channel, **options):
        click.echo(line)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backends(as_json: bool) -> None:
    """List the installed backends."""
    from gmat_sweep.registry import available_backends, get_registry

    entries = available_backends()
    rows = [
        {
            "name": e.name,
            "distribution": e.distribution,
            "version": e.version or __version__,
            "description": e.description,
        }
        for e in entries
    ]
    broken = get_registry().broken
    if as_json:
        payload = {"backends": rows, "broken": [b.__dict__ for b in broken]}
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['distribution']} {r['version']}  {r['description']}")
    for b in broken:
        click.echo(f"(failed to load: {b.distribution} {b.version}: {b.error})", err=True)


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("gmat-sweep-demo"),
    show_default=True,
    help="Sweep directory (a previous demo there is replaced).",
)
@click.option("--workers", type=int, default=-1, help="Worker processes (default: every core).")
@click.option("--no-progress", is_flag=True, help="Do not show the live progress line.")
@_guard
def demo(out: Path, workers: int, no_progress: bool) -> None:
    """Sweep the bundled example mission end to end and show the result."""
    from gmat_sweep.demo import run_demo

    run_demo(out, workers=workers, progress=None if not no_progress else False, echo=click.echo)


add_sensitivity_commands(main, _new_sweep_options, _guard, _start)  # sobol, morris, sensitivity
add_picture_commands(main, _guard)  # plot, report, archive

if __name__ == "__main__":
    main()
