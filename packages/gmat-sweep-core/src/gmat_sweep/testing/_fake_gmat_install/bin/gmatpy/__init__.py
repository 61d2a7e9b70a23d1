"""A pure-Python stand-in for GMAT's ``gmatpy`` SWIG module (R2026a API surface).

Installed by ``gmat_sweep.testing.make_fake_gmat_install`` under ``<root>/bin/``,
it is what ``import gmatpy`` finds once gmat-run puts that directory on
``sys.path``. It implements the calls gmat-run (and a typical GMAT Python user)
makes: ``Setup``, ``LoadScript``, ``GetObject``, field get/set with GMAT's type
codes, ``Moderator.Instance()`` object lists and command walk, ``UseLogFile``
and ``RunScript``, plus the integer enums of ``Gmat::ParameterType`` and
``Gmat::ObjectType``.

The physics is deliberately small: Earth point-mass two-body motion, propagated
analytically in fixed steps, with reports written in GMAT's text layout. Knobs
in ``<root>/bin/fake_gmat_config.json`` add bootstrap delay, run cost and
conditional failures, crashes, hangs and slow runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ._base import GmatBase
from ._commands import Command
from ._engine import Engine
from ._types import OBJECT_TYPES, PARAMETER_TYPES, APIException

__all__ = [
    "APIException",
    "Clear",
    "EchoLogFile",
    "GetObject",
    "GetRuntimeObject",
    "GmatBase",
    "Initialize",
    "LoadScript",
    "Moderator",
    "Rmatrix",
    "RunScript",
    "Rvector",
    "Setup",
    "ShowObjects",
    "UseLogFile",
]

globals().update(PARAMETER_TYPES)
globals().update(OBJECT_TYPES)

_ENGINE = Engine(Path(__file__).resolve().parent.parent)


def Setup(startup_file: str = "") -> None:
    """Start the engine from ``startup_file`` (api_startup_file.txt).

    Raises:
        APIException: the startup file does not exist.
    """
    _ENGINE.setup(str(startup_file))


def _ensure_ready() -> None:
    if not _ENGINE.ready:
        _ENGINE.setup("")


def LoadScript(path: str) -> bool:
    """Interpret a ``.script`` file; False (errors in the log) when it does not load."""
    _ensure_ready()
    return _ENGINE.load_script(str(path))


def RunScript() -> int:
    """Run the loaded mission sequence. 1 on success, negative on failure."""
    _ensure_ready()
    return _ENGINE.run_script()


def Initialize() -> bool:
    """Initialise the configured objects (as before a run); False when one fails."""
    try:
        for obj in _ENGINE.objects.values():
            obj.Initialize()
    except APIException as exc:
        _ENGINE.log.error(str(exc))
        return False
    return True


def GetObject(name: str) -> GmatBase:
    """The configured object ``name``. Raises AttributeError for an unknown name."""
    return _ENGINE.get_object(str(name))


def GetRuntimeObject(name: str) -> GmatBase:
    """The object ``name`` as the last run left it (falls back to the configured one)."""
    obj = _ENGINE.last_run.get(str(name))
    return obj if obj is not None else GetObject(name)


def UseLogFile(path: str) -> None:
    """Send the engine's log to ``path`` (truncated), closing the previous log."""
    _ENGINE.log.use(str(path))


def EchoLogFile(echo: bool = True) -> None:
    """Accepted for compatibility; errors always go to stderr."""


def Clear() -> None:
    """Forget the loaded script (GMAT's default objects remain)."""
    _ENGINE.clear()


def ShowObjects(type_name: str = "") -> str:
    """One line per configured object (optionally only those of ``type_name``)."""
    rows = [
        f"{name:<24} {obj.GetTypeName()}"
        for name, obj in _ENGINE.objects.items()
        if not type_name or obj.IsOfType(type_name)
    ]
    return "\n".join(rows)


class _Moderator:
    """The object ``Moderator.Instance()`` returns."""

    def GetListOfObjects(self, type_id: int) -> tuple[str, ...]:
        return _ENGINE.list_objects(int(type_id))

    def GetFirstCommand(self, sandbox_num: int = 1) -> Command:
        return _ENGINE.first_command()

    def GetConfiguredObject(self, name: str) -> GmatBase | None:
        return _ENGINE.objects.get(name)

    def RunScript(self, sandbox_num: int = 1) -> int:
        return RunScript()


class Moderator:
    """``gmat.Moderator.Instance()``: the engine's singleton manager."""

    _instance = _Moderator()

    @staticmethod
    def Instance() -> _Moderator:
        return Moderator._instance


class Rmatrix:
    """A real matrix (``gmat.Rmatrix(rows, cols)``), zero-initialised."""

    def __init__(self, rows: int = 0, cols: int = 0) -> None:
        self._rows, self._cols = int(rows), int(cols)
        self._data = [[0.0] * self._cols for _ in range(self._rows)]

    def GetNumRows(self) -> int:
        return self._rows

    def GetNumColumns(self) -> int:
        return self._cols

    def GetElement(self, row: int, col: int) -> float:
        return self._data[row][col]

    def SetElement(self, row: int, col: int, value: float) -> None:
        self._data[row][col] = float(value)

    def __repr__(self) -> str:
        return f"Rmatrix({self._data!r})"


class Rvector:
    """A real vector (``gmat.Rvector(size)``), zero-initialised and iterable."""

    def __init__(self, size: int = 0) -> None:
        self._data = [0.0] * int(size)

    def GetSize(self) -> int:
        return len(self._data)

    def GetElement(self, index: int) -> float:
        return self._data[index]

    def SetElement(self, index: int, value: float) -> None:
        self._data[index] = float(value)

    def __iter__(self) -> Iterator[float]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
