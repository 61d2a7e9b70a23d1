"""The parts of ``gmat-sweep report`` read from the manifest alone: what was swept, how the
runs ended (with each failed run's error and log excerpt), the parameters' ranges and
the commands that carry the sweep on. No figure here; see :mod:`gmat_sweep.report`.
"""

from __future__ import annotations

import collections
import json
import shlex
from pathlib import Path
from typing import Any

from gmat_sweep import report_html as h
from gmat_sweep.manifest import STATUSES, Manifest
from gmat_sweep.show import _log_path, _log_reasons

__all__ = ["commands", "parameter_ranges", "run_outcomes", "what_was_swept"]

#: Failed runs listed one by one at most; the rest are counted (``show --failed`` has all).
MAX_FAILED_SHOWN = 50
_LOG_LINES = 40


def what_was_swept(out: Path, manifest: Manifest, output: str | None, others: list[str]) -> str:
    """Script, design, seed, settings, outputs, versions, workers and sessions."""
    header = manifest.header
    design = header.get("design") or {}
    script = header.get("script") or {}
    settings = header.get("settings") or {}
    retention = settings.get("retention") or {}
    seed = design.get("seed")
    rows: list[tuple[str, Any]] = [
        ("sweep", f"{header.get('sweep_id', '?')} in {out}"),
        ("created", header.get("created_at", "?")),
        ("script", f"{script.get('name', '?')} (sha256 {script.get('sha256', '?')})"),
        ("design", f"{design.get('kind', '?')}, {manifest.n_runs} runs"),
        ("seed", seed if seed is not None else "none (the design draws nothing at random)"),
        ("parameters", ", ".join(str(p) for p in design.get("parameters", [])) or "none"),
        ("timeout", f"{settings['timeout']} s" if settings.get("timeout") else "none"),
        ("max retries", settings.get("max_retries", "?")),
        ("kept", _retention(retention, settings)),
        ("output shown", output or "none (no run ended ok)"),
    ]
    if others:
        rows.append(("other outputs", ", ".join(others)))
    parts = [h.key_values(rows)]
    versions = header.get("versions") or {}
    if versions:
        parts.append(h.section("Software when the sweep started", level=3))
        parts.append(h.table(["package", "version"], sorted(versions.items())))
    sessions, workers, hosts = _history(manifest)
    if workers:
        parts.append(h.section("Workers the runs ran on", level=3))
        if len(workers) > 1:
            parts.append(
                h.paragraph(
                    "Runs ran on workers with different software: mismatched worker images "
                    "can silently change results.",
                    css="bad",
                )
            )
        worker_rows = [
            (n, ", ".join(sorted(hosts[software])), ", ".join(f"{k} {v}" for k, v in software))
            for software, n in workers.most_common()
        ]
        parts.append(h.table(["attempts", "hosts", "software"], worker_rows))
    if sessions:
        parts.append(h.section("Sessions", level=3))
        parts.append(h.table(["started", "backend", "options", "runs to do"], sessions))
    return h.section("What was swept", *parts)


def run_outcomes(out: Path, manifest: Manifest) -> str:
    """Runs per status, and each run that did not end ok: its error and log excerpt."""
    counts = manifest.status_counts()
    missing = manifest.n_runs - sum(counts.values())
    rows: list[tuple[str, int]] = [(s, counts[s]) for s in STATUSES if s and s in counts]
    if missing:
        rows.append(("not run yet", missing))
    ok = counts.get("ok", 0)
    verdict = (
        h.paragraph(f"All {manifest.n_runs} runs ended ok.", css="ok")
        if ok == manifest.n_runs
        else h.paragraph(
            f"{manifest.n_runs - ok} of {manifest.n_runs} runs did not end ok.", css="bad"
        )
    )
    parts = [verdict, h.table(["status", "runs"], rows)]
    bad = _not_ok_entries(manifest)
    if bad:
        parts.append(h.section("Runs that did not end ok", level=3))
        table_rows = [_failed_row(out, run_id, entry) for run_id, entry in bad[:MAX_FAILED_SHOWN]]
        parts.append(
            h.table(["run", "status", "error", "overrides", "log"], table_rows, markup=True)
        )
        if len(bad) > MAX_FAILED_SHOWN:
            parts.append(
                h.paragraph(
                    f"... and {len(bad) - MAX_FAILED_SHOWN} more: gmat-sweep show "
                    f"{shlex.quote(str(out))} --failed lists every one."
                )
            )
    return h.section("How the runs ended", *parts)


def _not_ok_entries(manifest: Manifest) -> list[tuple[int, dict[str, Any]]]:
    """The latest committed run line of each run that did not end ok, by run id (only
    those runs' lines are kept, so a large sweep's manifest is not held in memory)."""
    codes = manifest.status_codes()
    ok = STATUSES.index("ok")
    bad = {run_id for run_id, code in enumerate(codes) if code not in (0, ok)}
    latest: dict[int, dict[str, Any]] = {}
    if bad:
        for entry in manifest.run_entries():
            run_id = int(entry.get("run_id", -1))
            if run_id in bad:
                latest[run_id] = entry
    return sorted(latest.items())


def _failed_row(out: Path, run_id: int, entry: dict[str, Any]) -> tuple[str, ...]:
    error = entry.get("error") or {}
    message = f"{error.get('type', '?')}: {error.get('message', '')}".strip()
    tail = error.get("log_tail") or ""
    reasons = "\n".join(_log_reasons(tail, limit=5))
    log = _log_path(out, entry)
    whole = _log_end(out, entry) or tail
    cell = h.code(reasons) if reasons else ""
    if whole:
        cell += h.details(f"the log's last lines ({log})", h.code(whole))
    else:
        cell += h.text(f"log: {log}")
    return (
        h.text(run_id),
        h.text(f"{entry.get('status')} (attempt {entry.get('attempt')})"),
        h.text(message),
        f"<code>{h.text(json.dumps(entry.get('overrides') or {}, sort_keys=True))}</code>",
        cell,
    )


def _log_end(out: Path, entry: dict[str, Any]) -> str:
    """The last lines of the attempt's saved log, or "" when it has none here."""
    if not entry.get("log"):
        return ""
    path = out / entry["log"]
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 16_384))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-_LOG_LINES:])


def parameter_ranges(manifest: Manifest, table: Any) -> str:
    """Per parameter: how the design defines it, and the values the runs ran with.

    ``table`` is :func:`gmat_sweep.analysis.parameters` of the sweep."""
    import pandas as pd

    design = manifest.header.get("design") or {}
    rows: list[tuple[Any, ...]] = []
    for name in [str(c) for c in table.columns]:
        values = table[name].dropna()
        spec = next(
            (
                v[name]
                for k, v in design.items()
                if isinstance(v, dict) and name in v and k != "dtypes"
            ),
            None,
        )
        shown_spec = json.dumps(spec, sort_keys=True) if spec is not None else ""
        if len(shown_spec) > 160:
            shown_spec = shown_spec[:157] + "..."
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        )
        if numeric and len(values):
            rows.append(
                (name, shown_spec, float(values.min()), float(values.max()), int(values.nunique()))
            )
        else:
            distinct = sorted({str(v) for v in values})
            listed = ", ".join(distinct[:8]) + (" ..." if len(distinct) > 8 else "")
            rows.append((name, shown_spec, listed, "", len(distinct)))
    if not rows:
        return h.section("Parameters", h.paragraph("No run has ended yet, or nothing is swept."))
    return h.section(
        "Parameters",
        h.paragraph("The design's definition, and the values the runs that ended ran with."),
        h.table(["parameter", "design", "min", "max", "distinct values"], rows),
    )


def commands(out: Path, manifest: Manifest) -> str:
    """The commands that resume, extend, inspect and bundle the sweep."""
    where = shlex.quote(str(out))
    pending = len(manifest.pending())
    lines = []
    if pending:
        lines.append(f"# run the {pending} runs that are missing or did not end ok")
        lines.append(f"gmat-sweep resume {where}")
    if (manifest.header.get("design") or {}).get("kind") == "monte_carlo":
        lines.append("# add runs (the first runs stay identical to these)")
        lines.append(f"gmat-sweep extend {where} --n {max(manifest.n_runs, 1)}")
    lines += [
        "# what the manifest says, and every run that did not end ok",
        f"gmat-sweep show {where}",
        f"gmat-sweep show {where} --failed",
        "# this report again, and the sweep as one zip file",
        f"gmat-sweep report {where}",
        f"gmat-sweep archive {where} {shlex.quote(Path(out).name + '.zip')}",
    ]
    python = f"from gmat_sweep import load_results\n\ndf = load_results({str(out)!r})"
    return h.section(
        "Carrying on",
        h.code("\n".join(lines)),
        h.paragraph("The runs' DataFrame, in Python:"),
        h.code(python),
    )


def _retention(retention: dict[str, Any], settings: dict[str, Any]) -> str:
    keep = retention.get("keep") or []
    parts = [f"channels {', '.join(keep)}" if keep else "every channel"]
    parts.append(f"rows: {retention.get('rows', 'all')}")
    if retention.get("postprocess"):
        parts.append(f"postprocess {retention['postprocess']}")
    if settings.get("keep_gmat_files"):
        parts.append("each run's GMAT files (runs/)")
    return "; ".join(parts)


def _history(
    manifest: Manifest,
) -> tuple[list[tuple[str, str, str, Any]], collections.Counter[Any], dict[Any, set[str]]]:
    """Sessions, attempts per worker software, and the hosts of each software."""
    sessions = []
    workers: collections.Counter[Any] = collections.Counter()
    hosts: dict[Any, set[str]] = collections.defaultdict(set)
    for record in manifest.records():
        if record.get("kind") == "session":
            backend = record.get("backend") or {}
            options = json.dumps(backend.get("options") or {}, sort_keys=True)
            sessions.append(
                (
                    record.get("at", "?"),
                    backend.get("name", "?"),
                    options,
                    record.get("runs_to_do", "?"),
                )
            )
        elif record.get("kind") == "run":
            fingerprint = record.get("fingerprint") or {}
            software = tuple(sorted((k, str(v)) for k, v in fingerprint.items() if k != "host"))
            if software:
                workers[software] += 1
                hosts[software].add(str(fingerprint.get("host", "?")))
    return sessions, workers, hosts
