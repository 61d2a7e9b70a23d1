"""``ReportFile``: the resource and the text it writes, in GMAT's layout.

Layout (as real GMAT R2026a writes it): one header line naming each column
exactly as written in ``Add``, then one line per published state. Every cell is
left-justified in a column ``max(ColumnWidth, len(header), 24 for a Gregorian
epoch)`` wide followed by three spaces, including the last cell; lines end in
``\\n``. Reals are printed with ``Precision`` (16) significant digits in their
shortest form (``%.16g``); Gregorian epochs as ``15 Mar 2026 06:32:00.000``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, TextIO

from ._base import GmatBase
from ._params import ParamRef, evaluate
from ._types import (
    BOOLEAN_TYPE,
    ENUMERATION_TYPE,
    FILENAME_TYPE,
    INTEGER_TYPE,
    OBJECT_TYPES,
    OBJECTARRAY_TYPE,
    ON_OFF_TYPE,
    STRING_TYPE,
)
from ._values import FieldSpec, Value

__all__ = ["ReportFile", "ReportWriter"]

_GREGORIAN_WIDTH = 24
_SEPARATOR = "   "


class ReportFile(GmatBase):
    """``Create ReportFile r``: writes the ``Add`` parameters at every published state."""

    TYPE_NAME = "ReportFile"
    TYPE_IDS = (OBJECT_TYPES["REPORT_FILE"], OBJECT_TYPES["SUBSCRIBER"])
    ANCESTRY = ("Subscriber", "GmatBase")
    FIELDS = (
        FieldSpec("Filename", FILENAME_TYPE),
        FieldSpec("Precision", INTEGER_TYPE),
        FieldSpec("Add", OBJECTARRAY_TYPE),
        FieldSpec("WriteHeaders", BOOLEAN_TYPE),
        FieldSpec("LeftJustify", ON_OFF_TYPE),
        FieldSpec("ZeroFill", ON_OFF_TYPE),
        FieldSpec("FixedWidth", BOOLEAN_TYPE),
        FieldSpec("Delimiter", STRING_TYPE),
        FieldSpec("ColumnWidth", INTEGER_TYPE),
        FieldSpec("WriteReport", BOOLEAN_TYPE),
        FieldSpec("SolverIterations", ENUMERATION_TYPE, ("Current", "All", "None")),
        FieldSpec("Maximized", BOOLEAN_TYPE),
        FieldSpec("UpperLeft", STRING_TYPE, opaque=True),
        FieldSpec("Size", STRING_TYPE, opaque=True),
        FieldSpec("RelativeZOrder", STRING_TYPE, opaque=True),
    )
    DEFAULTS: ClassVar[dict[str, Value]] = {
        "Precision": 16,
        "Add": [],
        "WriteHeaders": True,
        "LeftJustify": "On",
        "ZeroFill": "Off",
        "FixedWidth": True,
        "Delimiter": " ",
        "ColumnWidth": 23,
        "WriteReport": True,
        "SolverIterations": "Current",
        "Maximized": False,
        "UpperLeft": "[ 0 0 ]",
        "Size": "[ 0 0 ]",
        "RelativeZOrder": "0",
    }

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._values["Filename"] = f"{name}.txt"

    def parameters(self) -> list[str]:
        """The ``Add`` list, as written."""
        value = self._values["Add"]
        assert isinstance(value, list)
        return [str(v) for v in value]


class ReportWriter:
    """Writes one ReportFile during one run. The file is created when the run starts."""

    def __init__(self, report: ReportFile, refs: list[ParamRef]) -> None:
        self._refs = refs
        self._precision = int(report.real("Precision"))
        self._left = report.get_value("LeftJustify") == "On"
        self._headers = bool(report.get_value("WriteHeaders"))
        self._enabled = bool(report.get_value("WriteReport"))
        column_width = int(report.real("ColumnWidth"))
        self._widths = [
            max(column_width, len(ref.text), _GREGORIAN_WIDTH if ref.is_gregorian else 0)
            for ref in refs
        ]
        self.rows_written = 0
        self._stream: TextIO | None = None
        if self._enabled:
            self._stream = open(report.text("Filename"), "w", encoding="utf-8", newline="\n")  # noqa: SIM115

    def _line(self, cells: list[str]) -> str:
        if self._left:
            padded = [c.ljust(w) for c, w in zip(cells, self._widths)]
        else:
            padded = [c.rjust(w) for c, w in zip(cells, self._widths)]
        return "".join(p + _SEPARATOR for p in padded) + "\n"

    def _format(self, value: float | int | str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int):
            return str(value)
        return "%.*g" % (self._precision, value)

    def publish(
        self,
        objects: Mapping[str, GmatBase],
        initial_epochs: Mapping[str, float],
        cache: dict[str, dict[str, float]],
    ) -> None:
        """Write one row with the current value of every parameter."""
        if self._stream is None:
            return
        if self.rows_written == 0 and self._headers:
            self._stream.write(self._line([ref.text for ref in self._refs]))
        values = [evaluate(ref, objects, initial_epochs, cache) for ref in self._refs]
        self._stream.write(self._line([self._format(v) for v in values]))
        self.rows_written += 1

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
