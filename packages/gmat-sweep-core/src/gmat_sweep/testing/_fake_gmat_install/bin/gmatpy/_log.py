"""GMAT's MessageInterface: the log file ``UseLogFile`` points at, and stderr for errors.

``UseLogFile(path)`` closes the current log (with GMAT's closing banner) and
truncates and opens ``path`` with GMAT's opening banner. Messages sent before
any log file is chosen are kept in memory only; errors are also echoed to
stderr, where a GMAT host's supervisor can see them.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["MessageLog"]

BUILD_DATE = "Nov 23 2026 21:32:16"
_RULE = "=" * 40
_PENDING_LIMIT = 200


class MessageLog:
    """The process-wide log of the fake engine."""

    def __init__(self) -> None:
        self._path: str | None = None
        self._stream: TextIO | None = None
        self.pending: list[str] = []

    @property
    def path(self) -> str | None:
        return self._path

    def use(self, path: str) -> None:
        """Switch the log to ``path`` (truncating it)."""
        self.close()
        self._stream = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._path = path
        self._stream.write(
            f"GMAT Build Date: {BUILD_DATE}\n\n"
            f"GMAT API Log: Created {time.ctime()}\n\n\n"
            f"Logging to {path}\n"
        )
        self._stream.flush()

    def close(self) -> None:
        """Write GMAT's closing banner and close the current log, if any."""
        if self._stream is None:
            return
        try:
            self._stream.write(f"\n{_RULE}\n\nLog closed: {time.ctime()}\n\n\n")
            self._stream.close()
        finally:
            self._stream = None
            self._path = None

    def show(self, text: str) -> None:
        """Append ``text`` (which carries its own newlines) to the log."""
        if self._stream is None:
            self.pending.append(text)
            del self.pending[:-_PENDING_LIMIT]
            return
        self._stream.write(text)
        self._stream.flush()

    def error(self, text: str) -> None:
        """Log ``**** ERROR **** <text>`` and echo it to stderr."""
        line = f"**** ERROR **** {text}\n"
        self.show(line)
        sys.stderr.write(line)
        sys.stderr.flush()

    def warning(self, text: str) -> None:
        """Log ``*** WARNING *** <text>`` and echo it to stderr."""
        line = f"*** WARNING *** {text}\n"
        self.show(line)
        sys.stderr.write(line)
        sys.stderr.flush()

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.flush()
