"""The live progress line: runs done, failed and in flight, rate and ETA.

Shown on a terminal (stderr) only, or when asked for; silent otherwise, so logs
and CI output stay clean. Built on tqdm.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress", "make_progress"]


class Progress:
    """Silent progress: the interface every progress display implements."""

    def update(self, *, in_flight: int) -> None:
        """The number of runs now in flight changed."""

    def result(self, status: str, *, final: bool) -> None:
        """An attempt ended with ``status``; ``final`` when the run will not be retried."""

    def close(self) -> None:
        """Stop displaying."""


class _TqdmProgress(Progress):
    def __init__(self, total: int, done: int) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(
            total=total,
            initial=done,
            unit="run",
            dynamic_ncols=True,
            file=sys.stderr,
            smoothing=0.1,
        )
        self._not_ok = 0
        self._in_flight = 0

    def _postfix(self) -> None:
        self._bar.set_postfix_str(
            f"not ok {self._not_ok}, in flight {self._in_flight}", refresh=False
        )

    def update(self, *, in_flight: int) -> None:
        self._in_flight = in_flight
        self._postfix()

    def result(self, status: str, *, final: bool) -> None:
        if not final:
            return
        if status != "ok":
            self._not_ok += 1
        self._postfix()
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def make_progress(enabled: bool | None, *, total: int, done: int) -> Progress:
    """A live display when ``enabled`` (None: when stderr is a terminal), else silence."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return _TqdmProgress(total, done) if enabled else Progress()
