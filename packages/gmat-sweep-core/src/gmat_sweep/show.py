"""Human-readable descriptions of a sweep directory (``gmat-sweep show``).

Reads only the manifest; never imports pandas.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

from gmat_sweep.convergence import describe_solver
from gmat_sweep.manifest import Manifest
from gmat_sweep.spec import run_dir_name

__all__ = ["describe_failed", "describe_run", "describe_sweep"]


def _log_path(out: Path, entry: dict[str, Any]) -> str:
    """Where the attempt's whole log is: ``logs/`` (runs that did not end ok), or the
    run's kept GMAT files (``keep_gmat_files``)."""
    if entry.get("log"):
        return str(out / entry["log"])
    kept = out / "runs" / run_dir_name(int(entry["run_id"])) / "GmatLog.txt"
    if kept.is_file():
        return str(kept)
    if entry.get("status") == "ok":
        return "none kept (ok runs keep no logs; run with keep_gmat_files=True to keep them)"
    if entry.get("status") == "unconverged":
        return "none kept (GMAT ran it to the end; run with keep_gmat_files=True to keep its files)"
    return "none (the run never reached GMAT, or its worker was lost)"


def describe_sweep(out: Path) -> str:
    """Script, design, run counts by status, sessions and worker software."""
    manifest = Manifest.load(out)
    header = manifest.header
    design = header.get("design", {})
    counts = collections.Counter(manifest.status_counts())
    missing = manifest.n_runs - sum(counts.values())
    lines = [
        f"sweep {header.get('sweep_id', '?')} in {out}",
        f"  script:  {header['script']['name']} (sha256 {header['script']['sha256'][:12]}...)",
        f"  design:  {design.get('kind', '?')}, {manifest.n_runs} runs"
        + (f", seed {design['seed']}" if design.get("seed") is not None else "")
        + f", parameters: {', '.join(design.get('parameters', []))}",
        f"  created: {header.get('created_at', '?')}",
    ]
    status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if missing:
        status += f"{', ' if status else ''}{missing} not run yet"
    lines.append(f"  runs:    {status or 'none yet'}")
    sessions: list[str] = []
    fingerprints: dict[tuple[tuple[str, str], ...], int] = collections.Counter()
    retried = 0
    solvers = _SolverTally()
    for record in manifest.records():
        if record.get("kind") == "session":
            backend = record.get("backend", {})
            sessions.append(f"{record.get('at', '?')} on {backend.get('name', '?')}")
        elif record.get("kind") == "run":
            software = tuple(
                sorted((k, v) for k, v in (record.get("fingerprint") or {}).items() if k != "host")
            )
            if software:
                fingerprints[software] += 1
            if record.get("attempt", 1) > 1:
                retried += 1
            solvers.add(int(record["run_id"]), record.get("solvers") or {})
    if sessions:
        lines.append(f"  sessions: {'; '.join(sessions)}")
    if retried:
        lines.append(f"  retried attempts: {retried}")
    accepted = bool((header.get("settings") or {}).get("accept_unconverged"))
    lines.extend(solvers.lines(accepted))
    if len(fingerprints) > 1:
        lines.append("  WARNING: runs ran on workers with different software:")
        for software, n in fingerprints.items():
            lines.append(f"    {n} runs: {', '.join(f'{k} {v}' for k, v in software)}")
    not_ok = counts.total() - counts.get("ok", 0)
    if not_ok or missing:
        lines.append(f"  next: gmat-sweep show {out} --failed; gmat-sweep resume {out}")
    return "\n".join(lines)


def _log_reasons(tail: str, limit: int = 3) -> list[str]:
    """The lines of a log tail that say why a run failed (GMAT's errors, a traceback's end).

    Falls back to the last non-empty lines when nothing looks like an error.
    """
    lines = [line.rstrip() for line in tail.splitlines() if line.strip()]
    markers = ("exception", "error", "fatal", "signal")
    flagged = [line for line in lines if any(m in line.lower() for m in markers)]
    return (flagged or lines)[-limit:]


def describe_failed(out: Path) -> str:
    """Every run whose latest attempt is not ok: status, error, log path."""
    manifest = Manifest.load(out)
    latest = manifest.latest_entries()
    bad = [(r, e) for r, e in sorted(latest.items()) if e.get("status") != "ok"]
    if not bad:
        return f"no failed runs in {out} ({len(latest)} of {manifest.n_runs} ran)"
    lines = [f"{len(bad)} run(s) did not end ok:"]
    for run_id, entry in bad:
        error = entry.get("error") or {}
        lines.append(
            f"  run {run_id} [{entry.get('status')}] attempt {entry.get('attempt')}: "
            f"{error.get('type', '?')}: {_first_line(error.get('message', ''))}"
        )
        lines.append(f"    overrides: {json.dumps(entry.get('overrides', {}), sort_keys=True)}")
        for reason in _log_reasons(error.get("log_tail") or ""):
            lines.append(f"    | {reason}")
        lines.append(f"    log: {_log_path(out, entry)}")
    lines.append(f"rerun them with: gmat-sweep resume {out}")
    return "\n".join(lines)


def describe_run(out: Path, run_id: int) -> str:
    """Everything the manifest knows about one run, every attempt, and its log tail."""
    manifest = Manifest.load(out)
    attempts: list[dict[str, Any]] = [
        e for e in manifest.run_entries() if int(e.get("run_id", -1)) == run_id
    ]
    if not attempts:
        if 0 <= run_id < manifest.n_runs:
            return f"run {run_id} has not run yet; gmat-sweep resume {out} runs it"
        return f"no run {run_id}: this sweep has runs 0 to {manifest.n_runs - 1}"
    last = attempts[-1]
    lines = [
        f"run {run_id}: {last.get('status')} after {len(attempts)} attempt(s)",
        f"  overrides: {json.dumps(last.get('overrides', {}), sort_keys=True)}",
        f"  seed: {last.get('seed')}",
    ]
    for entry in attempts:
        fp = entry.get("fingerprint") or {}
        took = f"{entry.get('duration_s', 0):.3f} s"
        lines.append(
            f"  attempt {entry.get('attempt')}: {entry.get('status')} in {took} "
            f"on {fp.get('host', '?')} ({entry.get('started_at')})"
        )
        if entry.get("error"):
            lines.append(f"    {entry['error'].get('type')}: {entry['error'].get('message')}")
        for name, summary in (entry.get("solvers") or {}).items():
            lines.append(f"    solver {describe_solver(name, summary)}")
    for name, rows in sorted((last.get("outputs") or {}).items()):
        lines.append(f"  output {name}: {rows} rows")
    for note in last.get("warnings") or []:
        lines.append(f"  warning: {note}")
    lines.append(f"  log: {_log_path(out, last)}")
    tail = (last.get("error") or {}).get("log_tail", "")
    if tail:
        lines.append("  log tail:")
        lines.extend(f"    {line}" for line in tail.strip().splitlines()[-15:])
    return "\n".join(lines)


#: A solver's ``converged`` (True, False, None: did not solve) as a _SolverTally code.
_SOLVER_CODES: dict[bool | None, int] = {True: 1, False: 2, None: 3}


class _SolverTally:
    """How each solver ended in each run's latest attempt, one byte per run and solver
    (0: no such solver in that attempt, then converged, not converged, did not solve)."""

    def __init__(self) -> None:
        self.codes: dict[str, bytearray] = {}

    def add(self, run_id: int, solvers: dict[str, Any]) -> None:
        """Record a run line (a later attempt of a run replaces the earlier one)."""
        for name, codes in self.codes.items():
            if name not in solvers and run_id < len(codes):
                codes[run_id] = 0
        for name, summary in solvers.items():
            codes = self.codes.setdefault(str(name), bytearray())
            if len(codes) <= run_id:
                codes.extend(bytes(run_id + 1 - len(codes)))
            codes[run_id] = _SOLVER_CODES.get(summary.get("converged"), 2)

    def lines(self, accepted: bool) -> list[str]:
        """``  solver DC: converged in 1 of 2 runs; not converged: run 0 (unconverged)``."""
        lines = []
        for name, codes in self.codes.items():
            ran = len(codes) - codes.count(0)
            if not ran:
                continue
            text = f"  solver {name}: converged in {codes.count(1)} of {ran} runs"
            if codes.count(3):
                text += f"; did not solve (RunInitialGuess) in {codes.count(3)}"
            bad = [run_id for run_id, code in enumerate(codes) if code == 2]
            if bad:
                shown = ", ".join(str(r) for r in bad[:10]) + (" ..." if len(bad) > 10 else "")
                verdict = "accepted as ok (accept_unconverged)" if accepted else "unconverged"
                text += f"; not converged: run {shown} ({verdict})"
            lines.append(text)
        return lines


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
