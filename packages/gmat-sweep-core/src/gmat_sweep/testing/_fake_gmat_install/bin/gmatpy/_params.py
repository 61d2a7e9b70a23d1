"""Report parameters: ``Sat.UTCGregorian``, ``Sat.ElapsedSecs``, ``Sat.Earth.SMA``,
``Sat.EarthMJ2000Eq.X``, ``Sat.Earth.Altitude``, a Variable by its bare name, ...

:func:`resolve` checks a parameter name against the configured objects (the
Interpreter's job at load time, the Sandbox's at run time); :func:`evaluate`
computes its current value from the running objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import _frames, _orbit, _time
from ._base import GmatBase
from ._resources import CoordinateSystem, StringObject, Variable
from ._spacecraft import Spacecraft
from ._types import INTEGER_TYPE, REAL_TYPE, UNSIGNED_INT_TYPE

__all__ = ["ParamRef", "evaluate", "resolve"]

# Parameters that depend on the central body (``Sat.Earth.SMA``) ...
ORIGIN_PARAMS = (
    "SMA",
    "ECC",
    "TA",
    "MA",
    "EA",
    "HA",
    "RMAG",
    "RadPer",
    "RadApo",
    "Energy",
    "C3Energy",
    "OrbitPeriod",
    "MeanMotion",
    "Altitude",
    "Latitude",
)
# ... and those that depend on a coordinate system (``Sat.EarthMJ2000Eq.X``).
FRAME_PARAMS = ("X", "Y", "Z", "VX", "VY", "VZ", "INC", "RAAN", "AOP", "VMAG", "HMAG")
_GEODETIC = ("Altitude", "Latitude")

Lookup = Callable[[str], GmatBase | None]


@dataclass(frozen=True)
class ParamRef:
    """A resolved report parameter.

    ``kind`` is ``epoch`` (key = DateFormat name), ``elapsed`` (ElapsedSecs /
    ElapsedDays), ``orbit`` (key = an orbit quantity), ``field`` (a numeric field
    of any object) or ``variable`` (a Variable or String by bare name).
    """

    text: str
    owner: str
    kind: str
    key: str

    @property
    def is_gregorian(self) -> bool:
        return self.kind == "epoch" and self.key.endswith("Gregorian")


def resolve(text: str, lookup: Lookup) -> ParamRef:
    """Resolve a parameter name as written in a ReportFile ``Add`` list or a command.

    Raises:
        ValueError: the name does not denote a parameter of a configured object.
    """
    parts = text.split(".")
    owner = lookup(parts[0])
    if owner is None:
        raise ValueError(f'Nonexistent object "{parts[0]}" referenced in parameter "{text}"')
    if len(parts) == 1:
        if isinstance(owner, (Variable, StringObject)):
            return ParamRef(text, parts[0], "variable", "Value")
        raise ValueError(f'"{text}" is not a Variable or parameter')
    if isinstance(owner, Spacecraft):
        return _resolve_spacecraft(text, parts, lookup)
    if len(parts) == 2:
        try:
            ptype = owner.spec(parts[1]).ptype
        except Exception:
            ptype = -1
        if ptype in (REAL_TYPE, INTEGER_TYPE, UNSIGNED_INT_TYPE):
            return ParamRef(text, parts[0], "field", parts[1])
    raise ValueError(f'"{text}" is not a valid parameter')


def _resolve_spacecraft(text: str, parts: list[str], lookup: Lookup) -> ParamRef:
    owner = parts[0]
    if len(parts) == 2:
        key = parts[1]
        if key in _time.EPOCH_FORMATS:
            return ParamRef(text, owner, "epoch", key)
        if key in ("ElapsedSecs", "ElapsedDays"):
            return ParamRef(text, owner, "elapsed", key)
        if key in ORIGIN_PARAMS or key in FRAME_PARAMS:
            return ParamRef(text, owner, "orbit", key)
        spacecraft = lookup(owner)
        assert spacecraft is not None
        try:
            ptype = spacecraft.spec(key).ptype
        except Exception:
            ptype = -1
        if ptype in (REAL_TYPE, INTEGER_TYPE, UNSIGNED_INT_TYPE):
            return ParamRef(text, owner, "field", key)
        raise ValueError(f'"{key}" is not a valid Spacecraft parameter in "{text}"')
    if len(parts) == 3:
        dependency, key = parts[1], parts[2]
        if key in ORIGIN_PARAMS:
            if dependency != "Earth":
                raise ValueError(f'"{text}": only the central body Earth is supported for {key}')
            return ParamRef(text, owner, "orbit", key)
        if key in FRAME_PARAMS:
            frame = lookup(dependency)
            if not isinstance(frame, CoordinateSystem):
                raise ValueError(f'Nonexistent coordinate system "{dependency}" in "{text}"')
            if not frame.is_earth_mj2000eq():
                raise ValueError(f'"{text}": only EarthMJ2000Eq axes are supported')
            return ParamRef(text, owner, "orbit", key)
    raise ValueError(f'"{text}" is not a valid parameter')


def evaluate(
    ref: ParamRef,
    objects: Mapping[str, GmatBase],
    initial_epochs: Mapping[str, float],
    cache: dict[str, dict[str, float]] | None = None,
) -> float | int | str:
    """The current value of ``ref`` in the running objects.

    ``cache`` (one dict per report row) memoises orbit quantities per spacecraft.

    Raises:
        KeyError: the owner is no longer configured (the caller reports it).
        OrbitError: the orbit quantity is undefined for the current state.
    """
    owner = objects[ref.owner]
    if ref.kind == "variable":
        value = owner.get_value("Value")
        assert isinstance(value, (float, str))
        return value
    if ref.kind == "field":
        value = owner.get_value(ref.key)
        assert isinstance(value, (int, float))
        return value
    assert isinstance(owner, Spacecraft)
    if ref.kind == "epoch":
        if ref.is_gregorian:
            return _time.format_epoch(owner.epoch, ref.key)
        return _time.epoch_number(owner.epoch, ref.key)
    if ref.kind == "elapsed":
        days = owner.epoch - initial_epochs.get(ref.owner, owner.epoch)
        return days * _time.SECONDS_PER_DAY if ref.key == "ElapsedSecs" else days
    memo = {} if cache is None else cache.setdefault(ref.owner, {})
    if ref.key not in memo:
        state = owner.cartesian()
        if ref.key in _GEODETIC:
            memo["Altitude"], memo["Latitude"] = _frames.geodetic(state[:3], owner.epoch)
        else:
            memo.update(_orbit.orbit_quantities(state))
    return memo[ref.key]
