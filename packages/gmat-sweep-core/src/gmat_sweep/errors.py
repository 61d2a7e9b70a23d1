"""Every error gmat-sweep raises, under one base class.

Each message says what was wrong and what to do about it. Errors about the user's
input are raised before any run starts, so nothing already computed is at risk.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "ArchiveError",
    "BackendConflictError",
    "BackendError",
    "BackendImportError",
    "BackendNotInstalledError",
    "DesignError",
    "GmatSweepError",
    "GmatUnavailableError",
    "ManifestCorruptError",
    "ManifestExistsError",
    "NotEnoughRunsError",
    "OutputDirError",
    "ParameterError",
    "PlotUnavailableError",
    "ResultsTooLargeError",
    "RetentionError",
    "ScriptError",
    "SweepConfigError",
    "SweepLockLostError",
    "SweepLockedError",
]


class GmatSweepError(Exception):
    """Base class of every error raised by gmat-sweep."""


class SweepConfigError(GmatSweepError):
    """The sweep as asked for cannot run; nothing was started. (CLI exit code 2.)"""


class ScriptError(SweepConfigError):
    """The mission script is missing or GMAT cannot load it."""


class ParameterError(SweepConfigError):
    """A swept or perturbed field does not exist, or a value does not fit its field."""


class DesignError(SweepConfigError):
    """The design itself is malformed: empty grid, non-finite value, unknown
    distribution, n < 1, a samples table with duplicate or empty columns."""


class OutputDirError(SweepConfigError):
    """The ``out`` directory cannot be used (not writable, not a directory...)."""


class RetentionError(SweepConfigError):
    """``keep=``, ``rows=`` or ``postprocess=`` is malformed, unknown or not importable."""


class ManifestExistsError(SweepConfigError):
    """``out`` already holds a sweep; starting a new one there would mix two sweeps."""


class GmatUnavailableError(SweepConfigError):
    """No GMAT install could be found or started where one is needed."""


class ManifestCorruptError(GmatSweepError):
    """A line of ``manifest.jsonl`` other than a torn last line cannot be read.

    Attributes:
        path: The manifest file.
        line_number: 1-based number of the bad line.
    """

    def __init__(self, message: str, *, path: str, line_number: int) -> None:
        super().__init__(message)
        self.path = path
        self.line_number = line_number


class ResultsTooLargeError(GmatSweepError):
    """The sweep's DataFrame would not fit in memory; the sweep itself is complete on disk.

    Read it lazily instead: ``lazy=True``, or :meth:`gmat_sweep.Results.dataset`.
    """


class SweepLockedError(GmatSweepError):
    """Another driver holds this sweep's lock (it runs, resumes or extends it now).

    Attributes:
        holder: The holder's lock record: ``host``, ``pid``, ``since``, ``token``.
    """

    def __init__(self, message: str, *, holder: dict[str, object]) -> None:
        super().__init__(message)
        self.holder = holder


class SweepLockLostError(GmatSweepError):
    """This driver's lock was taken over by another driver; it stopped writing."""


class BackendError(GmatSweepError):
    """A ``backend=`` name or object could not be turned into a pool."""


class BackendNotInstalledError(BackendError, ImportError):
    """A known backend whose package is not installed (the message has the pip line)."""


class BackendImportError(BackendError, ImportError):
    """A backend's package is installed but importing it failed."""


class UnknownBackendError(BackendError):
    """No installed or known backend has this name."""


class BackendConflictError(BackendError):
    """Two installed distributions register a backend under the same name."""


class AnalysisError(GmatSweepError, ValueError):
    """A statistic of :mod:`gmat_sweep.analysis` cannot be computed as asked: an unknown
    channel, a coverage outside (0, 1), missing values with no choice made about them."""


class NotEnoughRunsError(AnalysisError):
    """Too few values for the statistic asked for (a tolerance bound of that coverage,
    confidence and order).

    Attributes:
        needed: How many values it needs.
        got: How many there were.
    """

    def __init__(self, message: str, *, needed: int, got: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.got = got


class PlotUnavailableError(GmatSweepError, ImportError):
    """matplotlib, which :mod:`gmat_sweep.plot` and ``gmat-sweep report`` draw with, is not
    installed (the message has the ``pip install`` line)."""


class ArchiveError(GmatSweepError):
    """``gmat-sweep archive`` refused: the bundle exists already, or cannot be written."""
