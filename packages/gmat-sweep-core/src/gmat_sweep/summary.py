"""What a sweep's runs tell the user: how they ended, and workers that differ.

:class:`SweepSummary` counts the runs' statuses from the manifest (what ``gmat-sweep``
prints and ``Sweep.summary()`` returns); :class:`FingerprintWatch` notes, once per run that
shows it, a worker whose software differs from the sweep's first worker's.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gmat_sweep.manifest import STATUSES, Manifest

if TYPE_CHECKING:
    from gmat_sweep.spec import RunOutcome, RunSpec

__all__ = ["FingerprintWatch", "SweepSummary"]


class SweepSummary:
    """Counts of how the runs of a sweep ended."""

    def __init__(self, manifest: Manifest) -> None:
        self.total = manifest.n_runs
        self.counts = manifest.status_counts()
        codes = manifest.status_codes()
        ok = STATUSES.index("ok")
        self.not_ok = [r for r, code in enumerate(codes) if code not in (0, ok)]
        self.missing = self.total - sum(self.counts.values())

    @property
    def ok(self) -> int:
        return self.counts.get("ok", 0)

    @property
    def all_ok(self) -> bool:
        return self.ok == self.total

    def __str__(self) -> str:
        parts = [f"{self.ok}/{self.total} ok"]
        parts += [f"{n} {s}" for s, n in sorted(self.counts.items()) if s != "ok"]
        if self.missing:
            parts.append(f"{self.missing} not run")
        return ", ".join(parts)


class FingerprintWatch:
    """Compares every outcome's worker fingerprint with the sweep's first one."""

    def __init__(self) -> None:
        self._first: dict[str, str] | None = None

    def notes(self, spec: RunSpec, outcome: RunOutcome) -> list[str]:
        """The notes to record on this run's line (and warn about): a mismatch, or none."""
        mismatch = self.mismatch(outcome.fingerprint)
        return [mismatch] if mismatch else []

    def mismatch(self, fingerprint: Mapping[str, str]) -> str | None:
        """A note when a worker's software differs from the sweep's first worker's."""
        software = {k: v for k, v in fingerprint.items() if k != "host"}
        if not software:
            return None
        if self._first is None:
            self._first = software
            return None
        diffs = [
            f"{k} {self._first.get(k)} vs {v}"
            for k, v in sorted(software.items())
            if self._first.get(k) != v
        ]
        if not diffs:
            return None
        message = (
            f"worker {fingerprint.get('host', '?')} differs from the sweep's first worker "
            f"({'; '.join(diffs)}): mismatched worker images can silently change results"
        )
        warnings.warn(message, UserWarning, stacklevel=2)
        return message
