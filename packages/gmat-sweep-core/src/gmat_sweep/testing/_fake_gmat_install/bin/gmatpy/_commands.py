"""Mission-sequence commands: Propagate, Maneuver and assignments (of math: :mod:`._math`).

Each command is a node of a singly linked list, as GMAT's command sequence is
(``GetNext``), headed by ``NoOp`` and ``BeginMissionSequence``. ``check`` runs
when the script is loaded and again when a run starts (overrides may have broken
a reference); ``execute`` runs against the sandbox's cloned objects.

Propagation takes fixed steps and publishes a report row after each. The first
Propagate of a run also publishes its starting state; later ones do not, so the
row ending one Propagate appears once even when the next starts there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from . import _orbit, _time
from ._base import GmatBase
from ._resources import ImpulsiveBurn, PropSetup, StringObject, Variable
from ._spacecraft import Spacecraft
from ._types import APIException
from ._values import Literal

__all__ = [
    "Assignment",
    "Command",
    "Maneuver",
    "Propagate",
    "RunContext",
    "RunFailure",
    "StopCondition",
]

Lookup = Callable[[str], GmatBase | None]

# Stopping-condition tolerance (s): a step ending this close to the target is the last.
STOP_TOLERANCE = 1.0e-7
MAX_STEPS = 10_000_000


class RunFailure(Exception):
    """A command could not execute; the run ends with an execution error."""


class RunContext(Protocol):
    """What commands need from the sandbox running them."""

    objects: dict[str, GmatBase]
    initial_epochs: dict[str, float]  # each Spacecraft's epoch when the run started

    def publish(self) -> None: ...

    def published_any(self) -> bool: ...


class Command:
    """A GMAT command node (``GmatCommand``)."""

    TYPE_NAME = "GmatCommand"

    def __init__(self, text: str = "") -> None:
        self._text = text
        self.next: Command | None = None

    def check(self, lookup: Lookup) -> None:
        """Validate references. Raises ValueError with the reason."""

    def execute(self, ctx: RunContext) -> None:
        """Run the command against the sandbox's objects. Raises RunFailure."""

    def GetTypeName(self) -> str:
        return self.TYPE_NAME

    def GetName(self) -> str:
        return ""

    def GetNext(self) -> Command | None:
        return self.next

    def GetChildCommand(self, which: int = 0) -> Command | None:
        return None

    def IsOfType(self, kind: str) -> bool:
        return kind in (self.TYPE_NAME, "GmatCommand", "GmatBase")

    def GetGeneratingString(self, mode: int = 0, prefix: str = "", use_name: str = "") -> str:
        return self._text

    def __repr__(self) -> str:
        return f"<gmatpy.{self.TYPE_NAME} {self._text!r}>"


class NoOp(Command):
    TYPE_NAME = "NoOp"


class BeginMissionSequence(Command):
    TYPE_NAME = "BeginMissionSequence"


def _require(lookup: Lookup, name: str, kind: type[GmatBase], what: str) -> GmatBase:
    obj = lookup(name)
    if obj is None:
        raise ValueError(f'Nonexistent object "{name}" referenced')
    if not isinstance(obj, kind):
        raise ValueError(f'"{name}" is a {obj.GetTypeName()}, not a {what}')
    return obj


class StopCondition:
    """``<Sat>.ElapsedSecs = <number|Variable>`` or ``<Sat>.ElapsedDays = ...``."""

    def __init__(self, spacecraft: str, parameter: str, goal: Literal) -> None:
        self.spacecraft = spacecraft
        self.parameter = parameter
        self.goal = goal

    def check(self, lookup: Lookup, propagated: list[str]) -> None:
        _require(lookup, self.spacecraft, Spacecraft, "Spacecraft")
        if self.parameter not in ("ElapsedSecs", "ElapsedDays"):
            raise ValueError(
                f'stopping condition "{self.spacecraft}.{self.parameter}" is not supported '
                "(ElapsedSecs and ElapsedDays are)"
            )
        if self.spacecraft not in propagated:
            raise ValueError(f'"{self.spacecraft}" in the stopping condition is not propagated')
        if self.goal.kind == "ident":
            _require(lookup, self.goal.text, Variable, "Variable")
        elif self.goal.kind != "number":
            raise ValueError(f'"{self.goal.text}" is not a number or a Variable')

    def seconds(self, objects: dict[str, GmatBase]) -> float:
        if self.goal.kind == "number":
            value = self.goal.number
        else:
            variable = objects[self.goal.text]
            assert isinstance(variable, Variable)
            value = variable.value
        return value * _time.SECONDS_PER_DAY if self.parameter == "ElapsedDays" else value


class Propagate(Command):
    """``Propagate [BackProp] <Prop>(<Sat>, ...) [{<stop>}]``."""

    TYPE_NAME = "Propagate"

    def __init__(
        self,
        text: str,
        propagator: str,
        spacecraft: list[str],
        stop: StopCondition | None,
        backwards: bool,
    ) -> None:
        super().__init__(text)
        self.propagator = propagator
        self.spacecraft = spacecraft
        self.stop = stop
        self.backwards = backwards

    def check(self, lookup: Lookup) -> None:
        _require(lookup, self.propagator, PropSetup, "Propagator")
        for name in self.spacecraft:
            _require(lookup, name, Spacecraft, "Spacecraft")
        if self.stop is not None:
            self.stop.check(lookup, self.spacecraft)

    def execute(self, ctx: RunContext) -> None:
        prop = ctx.objects[self.propagator]
        assert isinstance(prop, PropSetup)
        step = prop.step_size()
        if step <= 0.0:
            raise RunFailure(f'Propagator "{self.propagator}" has a zero step size')
        if self.stop is None:
            target = step
        else:
            target = self.stop.seconds(ctx.objects)
        sign = -1.0 if (self.backwards or target < 0.0) else 1.0
        span = abs(target)
        if span / step > MAX_STEPS:
            raise RunFailure(f"propagation of {span} s in {step} s steps is too long")
        sats = [ctx.objects[name] for name in self.spacecraft]
        assert all(isinstance(s, Spacecraft) for s in sats)
        starts = [(s.epoch, s.cartesian()) for s in sats if isinstance(s, Spacecraft)]
        if not ctx.published_any():
            ctx.publish()
        elapsed = 0.0
        count = 0
        while span - elapsed > STOP_TOLERANCE:
            count += 1
            following = count * step
            if following >= span - STOP_TOLERANCE:
                following = span
            dt = sign * (following - elapsed)
            for sat, (epoch0, _) in zip(sats, starts):
                assert isinstance(sat, Spacecraft)
                try:
                    state = _orbit.propagate(sat.cartesian(), dt)
                except _orbit.OrbitError as exc:
                    raise RunFailure(f'propagating "{sat.name}": {exc}') from None
                sat.set_state(epoch0 + sign * following / _time.SECONDS_PER_DAY, state)
            elapsed = following
            ctx.publish()


class Maneuver(Command):
    """``Maneuver <ImpulsiveBurn>(<Sat>)``: add the burn's delta-v to the velocity."""

    TYPE_NAME = "Maneuver"

    def __init__(self, text: str, burn: str, spacecraft: str) -> None:
        super().__init__(text)
        self.burn = burn
        self.spacecraft = spacecraft

    def check(self, lookup: Lookup) -> None:
        _require(lookup, self.burn, ImpulsiveBurn, "ImpulsiveBurn")
        _require(lookup, self.spacecraft, Spacecraft, "Spacecraft")

    def execute(self, ctx: RunContext) -> None:
        burn = ctx.objects[self.burn]
        sat = ctx.objects[self.spacecraft]
        assert isinstance(burn, ImpulsiveBurn) and isinstance(sat, Spacecraft)
        frame = burn.text("CoordinateSystem")
        axes = burn.text("Axes")
        state = sat.cartesian()
        if frame == "Local" and axes == "VNB":
            delta = _orbit.vnb_delta_v(state, burn.components())
        elif (frame == "Local" and axes == "MJ2000Eq") or frame == "EarthMJ2000Eq":
            delta = list(burn.components())
        else:
            raise RunFailure(
                f'ImpulsiveBurn "{self.burn}": {frame}/{axes} axes are not supported '
                "(Local VNB, Local MJ2000Eq and EarthMJ2000Eq are)"
            )
        sat.set_state(sat.epoch, state[:3] + [state[3 + k] + delta[k] for k in range(3)])


class Assignment(Command):
    """``[GMAT] <target> = <value>`` in the mission sequence (the ``GMAT`` command)."""

    TYPE_NAME = "GMAT"

    def __init__(self, text: str, owner: str, field: str, value: Literal) -> None:
        super().__init__(text)
        self.owner = owner
        self.field = field
        self.value = value

    def check(self, lookup: Lookup) -> None:
        target = lookup(self.owner)
        if target is None:
            raise ValueError(f'Nonexistent object "{self.owner}" referenced')
        target.spec(self.field)
        if self.value.kind == "ident":
            self._source(lookup)

    def _source(self, lookup: Lookup) -> tuple[GmatBase, str] | None:
        """The object and field an identifier on the right-hand side names, if any."""
        head, _, rest = self.value.text.partition(".")
        source = lookup(head)
        if source is None:
            return None
        if not rest:
            if isinstance(source, (Variable, StringObject)):
                return source, "Value"
            return None
        source.spec(rest)
        return source, rest

    def execute(self, ctx: RunContext) -> None:
        target = ctx.objects[self.owner]
        value: object = self.value
        if self.value.kind == "ident":
            found = self._source(ctx.objects.get)
            if found is not None:
                value = found[0].get_value(found[1])
        try:
            target.assign(self.field, value)
        except APIException as exc:
            raise RunFailure(str(exc)) from None
