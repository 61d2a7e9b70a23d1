"""The stand-in's knobs, read from ``bin/fake_gmat_config.json`` inside the install.

Format (written by ``gmat_sweep.testing.make_fake_gmat_install``)::

    {"schema_version": 1, "bootstrap_delay_s": 0.0, "run_cost_s": 0.0,
     "rules": [{"when": {"Sat.SMA": 7100.0}, "action": "crash", "seconds": 0.0,
                "path": ""}]}

A missing file means no delay, no cost and no rules. The file is re-read at every
``Setup`` and ``RunScript``, so knobs can change between runs of one process.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

__all__ = ["CONFIG_NAME", "Config", "Rule", "busy_wait", "load_config"]

CONFIG_NAME = "fake_gmat_config.json"
ACTIONS = ("fail", "crash", "hang", "sleep", "wait", "gate")

Scalar = Union[float, int, str, bool]
# Reads a dotted path ("Sat.SMA", "TOF", "TOF.Value"); None when it does not resolve.
Reader = Callable[[str], Scalar | None]


@dataclass(frozen=True)
class Rule:
    """Do ``action`` when every ``when`` path has its value at RunScript time."""

    when: dict[str, Scalar]
    action: str
    seconds: float = 0.0
    path: str = ""  # the file a "gate" waits for

    def matches(self, read: Reader) -> bool:
        return all(_same(read(path), expected) for path, expected in self.when.items())

    def describe(self) -> str:
        if not self.when:
            return "every run"
        return ", ".join(f"{path} = {value!r}" for path, value in self.when.items())


@dataclass(frozen=True)
class Config:
    bootstrap_delay_s: float = 0.0
    run_cost_s: float = 0.0
    rules: tuple[Rule, ...] = field(default_factory=tuple)


def _same(actual: Scalar | None, expected: Scalar) -> bool:
    if actual is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and actual == expected
    if isinstance(expected, (int, float)):
        if isinstance(actual, str):
            try:
                actual = float(actual)
            except ValueError:
                return False
        return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-12)
    return str(actual) == expected


def load_config(bin_dir: Path) -> Config:
    """Read the config next to the ``gmatpy`` package; defaults when absent.

    Raises:
        ValueError: the file exists but is not a valid config.
    """
    path = bin_dir / CONFIG_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    rules = []
    for item in raw.get("rules", []):
        action = str(item["action"])
        if action not in ACTIONS:
            raise ValueError(f"{path}: unknown rule action {action!r}")
        rules.append(
            Rule(
                dict(item.get("when", {})),
                action,
                float(item.get("seconds", 0.0)),
                str(item.get("path", "")),
            )
        )
    return Config(
        bootstrap_delay_s=float(raw.get("bootstrap_delay_s", 0.0)),
        run_cost_s=float(raw.get("run_cost_s", 0.0)),
        rules=tuple(rules),
    )


def busy_wait(seconds: float) -> None:
    """Burn CPU for ``seconds`` of wall time (a run's cost, not an idle sleep)."""
    if seconds <= 0.0:
        return
    deadline = time.perf_counter() + seconds
    counter = 0
    while time.perf_counter() < deadline:
        counter += 1
