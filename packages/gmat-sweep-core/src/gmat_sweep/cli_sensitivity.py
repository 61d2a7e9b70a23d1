"""The sensitivity commands of ``gmat-sweep``: ``sobol``, ``morris`` and ``sensitivity``.

:func:`add_commands` adds them to the command group, given the decorators and the
runner the other sweep commands use, so they behave as those do (options, exit codes).
Only click is imported until a command runs; SALib only when a design is drawn or
indices are computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from gmat_sweep.cli_options import reduce_option, report_option

__all__ = ["add_commands", "parse_sensitivity_bounds"]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

_PERTURB_HELP = "lo:hi, or uniform:lo:hi | normal:mu:sigma | lognormal:mu:sigma (repeatable)."


def parse_sensitivity_bounds(texts: Sequence[str]) -> dict[str, Any]:
    """``--perturb NAME=lo:hi`` (uniform bounds) or ``NAME=DIST:a:b`` options, as the
    ``perturb`` mapping of :class:`~gmat_sweep.sensitivity_designs.Sobol`.

    Raises:
        DesignError: a malformed option, or a NAME given twice.
    """
    from gmat_sweep.grammar import parse_assignments, parse_perturbation

    def parse(name: str, spec: str) -> Any:
        if spec.count(":") == 1:
            return parse_perturbation(name, f"uniform:{spec}")[1:]
        return parse_perturbation(name, spec)

    return parse_assignments(texts, "--perturb", parse)


def add_commands(
    main: click.Group,
    new_sweep_options: Decorator,
    guard: Decorator,
    start: Callable[..., None],
) -> None:
    """Add ``sobol``, ``morris`` and ``sensitivity`` to ``main``."""

    @main.command("sobol")
    @click.argument("script", type=click.Path(path_type=Path))
    @click.option(
        "--n",
        "n",
        type=int,
        required=True,
        help="Base points (a power of 2): n*(D+2) runs, n*(2D+2) with --second-order.",
    )
    @click.option("--perturb", "perturbs", multiple=True, required=True, metavar="NAME=SPEC",
                  help=_PERTURB_HELP)  # fmt: skip
    @click.option("--second-order", is_flag=True, help="Also sample second-order effects.")
    @click.option("--seed", type=int, default=None, help="Seed (drawn and recorded if omitted).")
    @new_sweep_options
    @guard
    def sobol(
        script: Path,
        n: int,
        perturbs: Sequence[str],
        second_order: bool,
        seed: int | None,
        **options: Any,
    ) -> None:
        """Saltelli's sample for Sobol' indices of the fields (drawn with SALib)."""
        from gmat_sweep.sensitivity_designs import Sobol

        perturb = parse_sensitivity_bounds(perturbs)
        start(script, Sobol(n, perturb, seed=seed, calc_second_order=second_order), **options)

    @main.command("morris")
    @click.argument("script", type=click.Path(path_type=Path))
    @click.option(
        "--trajectories", type=int, required=True, help="Paths of D+1 runs each, for D fields."
    )
    @click.option("--perturb", "perturbs", multiple=True, required=True, metavar="NAME=lo:hi",
                  help="lo:hi or uniform:lo:hi (repeatable).")  # fmt: skip
    @click.option("--levels", type=int, default=4, show_default=True, help="Grid levels (even).")
    @click.option("--seed", type=int, default=None, help="Seed (drawn and recorded if omitted).")
    @new_sweep_options
    @guard
    def morris(
        script: Path,
        trajectories: int,
        perturbs: Sequence[str],
        levels: int,
        seed: int | None,
        **options: Any,
    ) -> None:
        """Morris' elementary-effects screening of the fields (drawn with SALib)."""
        from gmat_sweep.sensitivity_designs import Morris

        perturb = parse_sensitivity_bounds(perturbs)
        start(script, Morris(trajectories, perturb, seed=seed, levels=levels), **options)

    @main.command("sensitivity")
    @click.argument("out", type=click.Path(path_type=Path))
    @click.argument("channel")
    @reduce_option
    @click.option("--conf-level", type=float, default=0.95, show_default=True)
    @click.option("--resamples", "num_resamples", type=int, default=100, show_default=True,
                  help="Bootstrap resamples for the confidence intervals.")  # fmt: skip
    @click.option("--seed", type=int, default=None, help="Bootstrap seed (default: the design's).")
    @report_option
    @guard
    def sensitivity(out: Path, channel: str, **options: Any) -> None:
        """Sobol' or Morris indices of CHANNEL in the sweep in OUT."""
        from gmat_sweep.analysis.indices import interactions, sensitivity
        from gmat_sweep.manifest import Manifest

        click.echo(sensitivity(out, channel, **options).to_string())
        design = Manifest.load(out).header.get("design") or {}
        if design.get("kind") == "sobol" and design.get("calc_second_order"):
            click.echo("")
            click.echo(interactions(out, channel, **options).to_string())
