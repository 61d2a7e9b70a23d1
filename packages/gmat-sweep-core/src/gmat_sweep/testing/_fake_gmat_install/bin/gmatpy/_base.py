"""``GmatBase``: the field-access surface every fake GMAT object shares.

Mirrors the gmatpy methods gmat-run and GMAT users call: ``GetParameterID`` /
``GetParameterType`` / ``GetParameterCount`` / ``GetParameterText``, ``GetField`` /
``SetField`` / ``GetNumber`` and the typed ``Get*Parameter`` accessors. Parameter
IDs are the index in :meth:`GmatBase.field_specs` (the enumerated fields); aliases
that real GMAT accepts but does not enumerate get IDs from 10000 up.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import ClassVar

from ._types import (
    BOOLEAN_TYPE,
    INTEGER_TYPE,
    OBJECTARRAY_TYPE,
    ON_OFF_TYPE,
    PARAMETER_TYPE_STRINGS,
    REAL_TYPE,
    RVECTOR_TYPE,
    STRINGARRAY_TYPE,
    UNSIGNED_INT_TYPE,
    APIException,
)
from ._values import FieldSpec, Value, coerce, to_text

__all__ = ["GmatBase"]

_ALIAS_ID_BASE = 10000


class GmatBase:
    """A configured GMAT resource with typed, validated fields."""

    TYPE_NAME: ClassVar[str] = "GmatBase"
    TYPE_IDS: ClassVar[tuple[int, ...]] = ()
    ANCESTRY: ClassVar[tuple[str, ...]] = ()
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    DEFAULTS: ClassVar[Mapping[str, Value]] = {}

    def __init__(self, name: str) -> None:
        self._name = name
        self._values: dict[str, Value] = copy.deepcopy(dict(self.DEFAULTS))
        self._alias_ids: list[str] = []

    # --- schema hooks (overridden by subclasses) ------------------------------

    def field_specs(self) -> list[FieldSpec]:
        """Fields in ``GetParameterText`` order."""
        return list(self.FIELDS)

    def extra_spec(self, name: str) -> FieldSpec | None:
        """A field accepted by name but not enumerated (alias, owned-object field)."""
        return None

    def get_value(self, name: str) -> Value:
        """Current value of field ``name`` (already validated to exist)."""
        return self._values[name]

    def set_value(self, spec: FieldSpec, value: Value) -> None:
        """Store an already-coerced value."""
        self._values[spec.name] = value

    # --- Python-side helpers ---------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def real(self, name: str) -> float:
        """The value of a Real field as a float."""
        value = self.get_value(name)
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value)

    def text(self, name: str) -> str:
        """The value of a field as GetField shows it."""
        return to_text(self.get_value(name))

    def spec(self, name: str) -> FieldSpec:
        """The spec of field ``name``.

        Raises:
            APIException: the object has no such field.
        """
        for spec in self.field_specs():
            if spec.name == name:
                return spec
        extra = self.extra_spec(name)
        if extra is not None:
            return extra
        raise APIException(
            f'The field name "{name}" on object "{self._name}" is not permitted '
            f"for a {self.GetTypeName()}"
        )

    def assign(self, name: str, raw: object) -> None:
        """Validate and store ``raw`` (a script Literal or a Python value) in ``name``.

        Raises:
            APIException: unknown or read-only field, or a value of the wrong type.
        """
        spec = self.spec(name)
        if spec.read_only:
            raise APIException(
                f'The field "{name}" on object "{self._name}" is read-only and cannot be set'
            )
        self.set_value(spec, coerce(spec, raw, self._name))

    def clone(self) -> GmatBase:
        """An independent copy, as GMAT's sandbox clones configured objects."""
        return copy.deepcopy(self)

    def script_lines(self) -> list[str]:
        """``Create`` + one ``GMAT`` line per enumerated field (GetGeneratingString)."""
        lines = [f"Create {self.GetTypeName()} {self._name};"]
        for spec in self.field_specs():
            text = to_text(self.get_value(spec.name))
            lines.append(f"GMAT {self._name}.{spec.name} = {text};")
        return lines

    def _name_of(self, pid: int | str) -> str:
        if isinstance(pid, str):
            self.spec(pid)
            return pid
        specs = self.field_specs()
        if 0 <= pid < len(specs):
            return specs[pid].name
        if 0 <= pid - _ALIAS_ID_BASE < len(self._alias_ids):
            return self._alias_ids[pid - _ALIAS_ID_BASE]
        raise APIException(f'Parameter ID {pid} is out of range on object "{self._name}"')

    def _typed(self, pid: int | str, kinds: tuple[int, ...], label: str) -> Value:
        name = self._name_of(pid)
        if self.spec(name).ptype not in kinds:
            raise APIException(
                f'The field "{name}" on object "{self._name}" is not of type {label}'
            )
        return self.get_value(name)

    # --- gmatpy surface ---------------------------------------------------------

    def GetName(self) -> str:
        return self._name

    def SetName(self, name: str) -> bool:
        self._name = name
        return True

    def GetTypeName(self) -> str:
        return self.TYPE_NAME

    def GetType(self) -> int:
        return self.TYPE_IDS[0] if self.TYPE_IDS else -1

    def IsOfType(self, kind: int | str) -> bool:
        if isinstance(kind, str):
            return kind == self.GetTypeName() or kind in self.ANCESTRY
        return kind in self.TYPE_IDS

    def GetParameterCount(self) -> int:
        return len(self.field_specs())

    def GetParameterText(self, pid: int) -> str:
        specs = self.field_specs()
        if not 0 <= pid < len(specs):
            return self._name_of(pid)
        return specs[pid].name

    def GetParameterID(self, name: str) -> int:
        for index, spec in enumerate(self.field_specs()):
            if spec.name == name:
                return index
        self.spec(name)
        if name not in self._alias_ids:
            self._alias_ids.append(name)
        return _ALIAS_ID_BASE + self._alias_ids.index(name)

    def GetParameterType(self, pid: int | str) -> int:
        return self.spec(self._name_of(pid)).ptype

    def GetParameterTypeString(self, pid: int | str) -> str:
        return PARAMETER_TYPE_STRINGS.get(self.GetParameterType(pid), "Unknown")

    def IsParameterReadOnly(self, pid: int | str) -> bool:
        return self.spec(self._name_of(pid)).read_only

    def GetField(self, name: str) -> str:
        return to_text(self.get_value(self._name_of(name)))

    def SetField(self, name: str, value: object) -> bool:
        self.assign(name, value)
        return True

    def GetNumber(self, name: str) -> float:
        value = self._typed(name, (REAL_TYPE, INTEGER_TYPE, UNSIGNED_INT_TYPE), "Real")
        assert isinstance(value, (int, float))
        return float(value)

    def GetRealParameter(self, pid: int | str) -> float:
        value = self._typed(pid, (REAL_TYPE,), "Real")
        assert isinstance(value, float)
        return value

    def SetRealParameter(self, pid: int | str, value: float) -> float:
        name = self._name_of(pid)
        self._typed(name, (REAL_TYPE,), "Real")
        self.assign(name, value)
        return self.GetRealParameter(name)

    def GetIntegerParameter(self, pid: int | str) -> int:
        value = self._typed(pid, (INTEGER_TYPE, UNSIGNED_INT_TYPE), "Integer")
        assert isinstance(value, int)
        return value

    def SetIntegerParameter(self, pid: int | str, value: int) -> int:
        name = self._name_of(pid)
        self._typed(name, (INTEGER_TYPE, UNSIGNED_INT_TYPE), "Integer")
        self.assign(name, value)
        return self.GetIntegerParameter(name)

    def GetBooleanParameter(self, pid: int | str) -> bool:
        value = self._typed(pid, (BOOLEAN_TYPE,), "Boolean")
        assert isinstance(value, bool)
        return value

    def SetBooleanParameter(self, pid: int | str, value: bool) -> bool:
        name = self._name_of(pid)
        self._typed(name, (BOOLEAN_TYPE,), "Boolean")
        self.assign(name, value)
        return self.GetBooleanParameter(name)

    def GetOnOffParameter(self, pid: int | str) -> str:
        return str(self._typed(pid, (ON_OFF_TYPE,), "OnOff"))

    def GetStringParameter(self, pid: int | str) -> str:
        return self.GetField(self._name_of(pid))

    def SetStringParameter(self, pid: int | str, value: str) -> bool:
        return self.SetField(self._name_of(pid), value)

    def GetStringArrayParameter(self, pid: int | str) -> list[str]:
        value = self._typed(pid, (STRINGARRAY_TYPE, OBJECTARRAY_TYPE), "StringArray")
        assert isinstance(value, list)
        return [str(v) for v in value]

    def GetVector(self, name: str) -> list[float]:
        value = self._typed(name, (RVECTOR_TYPE,), "Rvector")
        assert isinstance(value, list)
        return [float(v) for v in value]

    def Initialize(self) -> bool:
        return True

    def GetGeneratingString(self, mode: int = 0, prefix: str = "", use_name: str = "") -> str:
        return "\n".join(self.script_lines()) + "\n"

    def Help(self) -> str:
        rows = [f"{self.GetTypeName()} {self._name}"]
        rows += [f"  {s.name:<32} {self.GetField(s.name)}" for s in self.field_specs()]
        return "\n".join(rows)

    def __repr__(self) -> str:
        return f"<gmatpy.{self.GetTypeName()} {self._name!r}>"
