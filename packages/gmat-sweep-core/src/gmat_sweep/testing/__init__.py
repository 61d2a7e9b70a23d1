"""Testing tools for gmat-sweep users and backend authors.

- :func:`make_fake_gmat_install` and :class:`FakeGmatRule`: a stand-in GMAT install
  the real gmat-run runs on, with knobs for delays, failures, crashes, hangs and gates;
  :func:`hung_processes`: the GMAT processes its hang knob stopped.
- :class:`PoolContractSuite` and :class:`PoolEquivalenceSuite`: pytest base classes a
  backend's tests subclass (implement ``make_pool()``) to prove the pool keeps the
  Pool contract and gives bit-equal results to the local pool.
- :func:`assert_sweeps_equal`: compare two finished sweeps bit for bit;
  :func:`manifest_lines`: a sweep's manifest lines, even while it runs.
- :func:`kit_script`: the mission the kit runs.
- :func:`run_watched`: run a command; when it hangs, list its processes and their stacks.

Names load lazily, so importing this package does not import pytest or pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gmat_sweep.testing.compare import assert_sweeps_equal, lost_batches, manifest_lines
    from gmat_sweep.testing.fake_gmat import FakeGmatRule, hung_processes, make_fake_gmat_install
    from gmat_sweep.testing.suites import (
        PoolContractSuite,
        PoolEquivalenceSuite,
        kit_gmat_root,
    )
    from gmat_sweep.testing.watched import Watched, run_watched

__all__ = [
    "FakeGmatRule",
    "PoolContractSuite",
    "PoolEquivalenceSuite",
    "Watched",
    "assert_sweeps_equal",
    "hung_processes",
    "kit_gmat_root",
    "kit_script",
    "lost_batches",
    "make_fake_gmat_install",
    "manifest_lines",
    "run_watched",
    "wait_until",
]

_LAZY = {
    "FakeGmatRule": "gmat_sweep.testing.fake_gmat",
    "make_fake_gmat_install": "gmat_sweep.testing.fake_gmat",
    "hung_processes": "gmat_sweep.testing.fake_gmat",
    "PoolContractSuite": "gmat_sweep.testing.suites",
    "PoolEquivalenceSuite": "gmat_sweep.testing.suites",
    "kit_gmat_root": "gmat_sweep.testing.suites",
    "assert_sweeps_equal": "gmat_sweep.testing.compare",
    "manifest_lines": "gmat_sweep.testing.compare",
    "lost_batches": "gmat_sweep.testing.compare",
    "Watched": "gmat_sweep.testing.watched",
    "run_watched": "gmat_sweep.testing.watched",
}


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, every: float = 0.05) -> bool:
    """Poll ``condition`` every ``every`` s until it holds (True) or ``timeout`` s have
    passed (False), for tests that wait on an event (a manifest line, a job leaving the
    queue) instead of sleeping a fixed time."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def kit_script() -> Path:
    """Path of the test kit's mission script (a two-body LEO coast with one ReportFile)."""
    return Path(__file__).parent / "missions" / "kit_orbit.script"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gmat_sweep.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)
