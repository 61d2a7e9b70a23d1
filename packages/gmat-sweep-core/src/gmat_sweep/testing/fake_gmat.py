"""The stand-in GMAT install: a directory the real gmat-run loads as if it were GMAT.

GMAT cannot be installed everywhere tests run, so :func:`make_fake_gmat_install`
writes a directory with GMAT's layout -- ``bin/gmatpy/`` (a pure-Python stand-in for
GMAT's SWIG module), ``api/load_gmat.py``, ``api/BuildApiStartupFile.py``,
``bin/gmat_startup_file.txt`` naming R2026a, ``output/`` -- and the real gmat-run runs
on top of it when ``GMAT_ROOT`` points there. It propagates a deterministic two-body
orbit, so outputs depend on the overrides, and writes ReportFiles in GMAT's text layout.

Knobs (bootstrap delay, run cost, and :class:`FakeGmatRule` failures, crashes, hangs and
slow runs) are stored in ``bin/fake_gmat_config.json`` and read by every GMAT process at
``Setup`` and ``RunScript``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["HUNG_PIDS", "FakeGmatRule", "hung_processes", "make_fake_gmat_install"]

_TEMPLATE = Path(__file__).parent / "_fake_gmat_install"
_CONFIG = Path("bin") / "fake_gmat_config.json"
_ACTIONS = ("fail", "crash", "hang", "sleep", "wait", "gate")
#: At the install root: one "pid start-time" line per GMAT process a "hang" rule stopped.
HUNG_PIDS = "hung.pids"

Action = Literal["fail", "crash", "hang", "sleep", "wait", "gate"]


@dataclass(frozen=True)
class FakeGmatRule:
    """Make the stand-in misbehave for the runs whose fields match ``when``.

    Attributes:
        when: field path -> value at ``RunScript`` time (``{"Sat.SMA": 6666.0}``;
            a bare Variable name or ``Name.Value`` both work). Numbers match within a
            relative 1e-9. An empty mapping matches every run.
        action: ``"fail"`` (RunScript returns a failure status and logs why),
            ``"crash"`` (the process dies of SIGSEGV, like a segfault in GMAT),
            ``"hang"`` (RunScript never returns; the process's pid and start time are
            appended to ``hung.pids`` at the install root, see :func:`hung_processes`),
            ``"sleep"`` (burn ``seconds`` of CPU, then run normally), ``"wait"`` (idle
            ``seconds`` without using the CPU, then run normally: a stand-in for work
            done elsewhere, e.g. remote slots simulated on a small machine), or
            ``"gate"`` (idle until the file ``path`` exists, then run normally; a run
            still waiting after ``seconds`` fails, saying so: a test orders runs by an
            event it controls, not by a guess at how long they take).
        seconds: how long ``"sleep"`` or ``"wait"`` takes; the most a ``"gate"`` waits.
        path: the file a ``"gate"`` waits for.
    """

    when: Mapping[str, float | int | str | bool] = field(default_factory=dict)
    action: Action = "fail"
    seconds: float = 0.0
    path: str | Path = ""

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"FakeGmatRule action must be one of {_ACTIONS}, got {self.action!r}")
        if self.seconds < 0:
            raise ValueError(f"FakeGmatRule seconds must be >= 0, got {self.seconds}")
        if (self.action == "gate") != bool(str(self.path)):
            raise ValueError('FakeGmatRule path= is for action="gate", and a gate needs one')
        if self.action == "gate" and self.seconds <= 0:
            raise ValueError('FakeGmatRule action="gate" needs seconds > 0 (its longest wait)')

    def to_json(self) -> dict[str, object]:
        return {"when": dict(self.when), "action": self.action, "seconds": self.seconds,
                "path": str(self.path)}  # fmt: skip


def hung_processes(root: str | Path) -> list[tuple[int, str]]:
    """(pid, start time) of every GMAT process a ``"hang"`` rule of the stand-in at
    ``root`` has stopped so far (the start time as in ``/proc/<pid>/stat``, so that a
    reused pid is not mistaken for the hung process)."""
    try:
        text = (Path(root) / HUNG_PIDS).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines():
        pid, _, start = line.partition(" ")
        found.append((int(pid), start))
    return found


def make_fake_gmat_install(
    path: str | Path,
    *,
    bootstrap_delay_s: float = 0.0,
    run_cost_s: float = 0.0,
    rules: Iterable[FakeGmatRule] = (),
) -> Path:
    """Write a stand-in GMAT install at ``path`` and return its resolved root.

    Args:
        path: directory to create. An existing stand-in there is refreshed in place
            (its knobs replaced); any other existing non-empty directory is refused.
        bootstrap_delay_s: extra seconds ``gmatpy.Setup`` takes (GMAT's startup cost).
        run_cost_s: seconds of CPU every ``RunScript`` burns before propagating.
        rules: conditional failures, crashes, hangs and slow runs.

    Raises:
        FileExistsError: ``path`` is a non-empty directory that is not a stand-in.
        ValueError: a delay or cost is negative.
    """
    if bootstrap_delay_s < 0 or run_cost_s < 0:
        raise ValueError("bootstrap_delay_s and run_cost_s must be >= 0")
    root = Path(path).expanduser().resolve()
    if root.exists() and any(root.iterdir()) and not (root / _CONFIG).is_file():
        raise FileExistsError(
            f"{root} exists and is not a stand-in GMAT install; choose an empty or new directory"
        )
    shutil.copytree(
        _TEMPLATE,
        root,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".keep"),
    )
    config = {
        "schema_version": 1,
        "bootstrap_delay_s": float(bootstrap_delay_s),
        "run_cost_s": float(run_cost_s),
        "rules": [rule.to_json() for rule in rules],
    }
    (root / _CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (root / "output").mkdir(exist_ok=True)
    return root
