"""Command-line options that several ``gmat-sweep`` commands share, written once.

Each is a click decorator; importing this module costs click only, so ``gmat-sweep
--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["REDUCTIONS", "reduce_option", "report_option"]

F = TypeVar("F", bound=Callable[..., Any])

#: How a channel becomes one value per run (``gmat_sweep.analysis.per_run``'s ``how``).
REDUCTIONS = ("last", "first", "min", "max", "mean")


def reduce_option(func: F) -> F:
    """``--reduce last|first|min|max|mean`` (default last), passed on as ``how``."""
    return click.option(
        "--reduce",
        "how",
        type=click.Choice(REDUCTIONS),
        default="last",
        show_default=True,
        help="One value per run: its last (first) row, or the channel's min, max or mean.",
    )(func)


def report_option(func: F) -> F:
    """``--report NAME``: which ReportFile, for a script with several."""
    return click.option("--report", default=None, help="ReportFile, when the script has several.")(
        func
    )
