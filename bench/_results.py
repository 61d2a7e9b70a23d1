"""Printing a bench's figures as a Markdown table, and appending them to RESULTS.md."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def publish(rows: list[tuple[str, str]], *, column: str, title: str, record: bool) -> None:
    """Print ``rows`` (figure, ``column``) as a table; with ``record``, append it to
    RESULTS.md under a heading naming ``title``, the time and the command that ran."""
    table = "\n".join([f"| figure | {column} |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])
    print(table)
    if record:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        command = f"python bench/{Path(sys.argv[0]).name} " + " ".join(sys.argv[1:])
        with open(RESULTS, "a", encoding="utf-8") as handle:
            handle.write(f"\n## {stamp}: {title} (`{command}`)\n\n{table}\n")
