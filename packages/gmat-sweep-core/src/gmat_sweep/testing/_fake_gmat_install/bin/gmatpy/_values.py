"""Field descriptions, script literals, and the type gate every field write goes through.

A script value (``8000``, ``'15 Mar 2026 06:30:00.000'``, ``{Earth, Luna}``,
``true``, ``On``, ``PointMass``) is parsed into a :class:`Literal`; a Python value
handed to ``SetField`` arrives as itself. :func:`coerce` turns either into the
field's Python representation or raises :class:`APIException` with GMAT-style text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Union

from ._types import (
    BOOLEAN_TYPE,
    ENUMERATION_TYPE,
    FILENAME_TYPE,
    INTEGER_TYPE,
    OBJECT_TYPE,
    OBJECTARRAY_TYPE,
    ON_OFF_TYPE,
    REAL_TYPE,
    RVECTOR_TYPE,
    STRING_TYPE,
    STRINGARRAY_TYPE,
    UNSIGNED_INT_TYPE,
    APIException,
)

__all__ = ["FieldSpec", "Literal", "Value", "coerce", "format_real", "parse_literal", "to_text"]

Value = Union[float, int, bool, str, list[str], list[float]]

_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")


@dataclass(frozen=True)
class FieldSpec:
    """One settable field: its name, GMAT parameter type, and allowed values.

    ``choices`` restricts ENUMERATION / OBJECT values when non-empty. ``opaque``
    fields accept any script literal and keep its source text (GUI-only fields).
    """

    name: str
    ptype: int
    choices: tuple[str, ...] = ()
    opaque: bool = False
    read_only: bool = False


@dataclass(frozen=True)
class Literal:
    """A parsed script value. ``kind`` is number, string, ident, bool, list or matrix."""

    kind: str
    text: str
    number: float = 0.0
    items: tuple[Literal, ...] = ()


def parse_literal(text: str) -> Literal:
    """Parse the right-hand side of a script assignment.

    Raises:
        ValueError: the text is not a GMAT literal (the caller reports the line).
    """
    raw = text.strip()
    if not raw:
        raise ValueError("missing value")
    if raw[0] == "'":
        if len(raw) < 2 or raw[-1] != "'" or "'" in raw[1:-1]:
            raise ValueError(f"unbalanced quotes in {raw}")
        return Literal("string", raw[1:-1])
    if raw[0] == "{":
        if raw[-1] != "}":
            raise ValueError(f"unbalanced braces in {raw}")
        inner = raw[1:-1].strip()
        parts = [p for p in re.split(r"[,\s]+", inner) if p] if inner else []
        return Literal("list", raw, items=tuple(parse_literal(p) for p in parts))
    if raw[0] == "[":
        if raw[-1] != "]":
            raise ValueError(f"unbalanced brackets in {raw}")
        return Literal("matrix", raw)
    if _NUMBER_RE.match(raw):
        return Literal("number", raw, number=float(raw))
    if raw.lower() in ("true", "false"):
        return Literal("bool", raw, number=1.0 if raw.lower() == "true" else 0.0)
    if _IDENT_RE.match(raw):
        return Literal("ident", raw)
    raise ValueError(f"'{raw}' is not a valid value")


def format_real(value: float) -> str:
    """GMAT's text form of a Real: 16 significant digits, shortest form."""
    return "%.16g" % value


def to_text(value: Value) -> str:
    """The string ``GetField`` returns for a stored value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_real(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "{" + ", ".join(to_text(v) for v in value) + "}"
    return value


def _reject(spec: FieldSpec, owner: str, shown: str, allowed: str) -> APIException:
    return APIException(
        f'The value of "{shown}" for field "{spec.name}" on object "{owner}" is not an '
        f"allowed value.\nThe allowed values are: [ {allowed} ]. "
    )


def _shown(value: object) -> str:
    if isinstance(value, Literal):
        return value.text
    return str(value)


def _number(value: object) -> float | None:
    if isinstance(value, Literal):
        return value.number if value.kind == "number" else None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        return float(value)
    return None


def _word(value: object) -> str | None:
    if isinstance(value, Literal):
        return value.text if value.kind in ("ident", "string") else None
    if isinstance(value, str):
        return value
    return None


def coerce(spec: FieldSpec, value: object, owner: str) -> Value:
    """Convert a script :class:`Literal` or a Python value to ``spec``'s representation.

    Raises:
        APIException: the value does not fit the field's type or allowed values.
    """
    ptype = spec.ptype
    if spec.opaque:
        if isinstance(value, Literal):
            return value.text
        if isinstance(value, (str, int, float, bool, list)):
            return to_text(value)
        raise _reject(spec, owner, _shown(value), "Any value")
    if ptype == REAL_TYPE:
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise _reject(spec, owner, _shown(value), "Real Number")
        return number
    if ptype in (INTEGER_TYPE, UNSIGNED_INT_TYPE):
        number = _number(value)
        if number is None or not number.is_integer():
            raise _reject(spec, owner, _shown(value), "Integer Number")
        if ptype == UNSIGNED_INT_TYPE and number < 0:
            raise _reject(spec, owner, _shown(value), "Integer Number >= 0")
        return int(number)
    if ptype == BOOLEAN_TYPE:
        if isinstance(value, bool):
            return value
        word = value.text if isinstance(value, Literal) and value.kind == "bool" else _word(value)
        if word is not None and word.lower() in ("true", "false"):
            return word.lower() == "true"
        raise _reject(spec, owner, _shown(value), "true, false")
    if ptype == ON_OFF_TYPE:
        if isinstance(value, bool):
            return "On" if value else "Off"
        word = _word(value)
        if word is not None and word.lower() in ("on", "off"):
            return "On" if word.lower() == "on" else "Off"
        raise _reject(spec, owner, _shown(value), "On, Off")
    if ptype in (STRING_TYPE, FILENAME_TYPE):
        if isinstance(value, Literal) and value.kind in ("string", "ident", "number"):
            return value.text
        if isinstance(value, str):
            return value
        raise _reject(spec, owner, _shown(value), "String")
    if ptype in (OBJECT_TYPE, ENUMERATION_TYPE):
        word = _word(value)
        if word is None:
            raise _reject(spec, owner, _shown(value), ", ".join(spec.choices) or "Object Name")
        if spec.choices and word not in spec.choices:
            raise _reject(spec, owner, word, ", ".join(spec.choices))
        return word
    if ptype in (STRINGARRAY_TYPE, OBJECTARRAY_TYPE):
        return _coerce_names(spec, value, owner)
    if ptype == RVECTOR_TYPE:
        return _coerce_vector(spec, value, owner)
    raise _reject(spec, owner, _shown(value), "a supported value")


def _coerce_names(spec: FieldSpec, value: object, owner: str) -> list[str]:
    if isinstance(value, Literal):
        if value.kind in ("ident", "string"):
            return [value.text]
        if value.kind == "list" and all(i.kind in ("ident", "string") for i in value.items):
            return [i.text for i in value.items]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise _reject(spec, owner, _shown(value), "List of names")


def _coerce_vector(spec: FieldSpec, value: object, owner: str) -> list[float]:
    if isinstance(value, Literal) and value.kind == "list":
        numbers = [_number(i) for i in value.items]
    elif isinstance(value, (list, tuple)):
        numbers = [_number(v) for v in value]
    else:
        numbers = [None]
    if any(n is None for n in numbers):
        raise _reject(spec, owner, _shown(value), "List of Real Numbers")
    return [float(n) for n in numbers if n is not None]
