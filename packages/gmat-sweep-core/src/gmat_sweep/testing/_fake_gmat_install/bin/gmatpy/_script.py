"""The script interpreter: GMAT ``.script`` text to configured objects and commands.

Accepted syntax: ``%`` comments, ``...`` line continuation, ``;``-separated
statements, ``Create <Type> <Name>[, <Name>...]``, ``[GMAT] <Obj>.<Field> = <value>``
and ``[GMAT] <Variable> = <number>`` before ``BeginMissionSequence``; after it,
``Propagate``, ``Maneuver`` and assignments, whose right-hand side may be math
(:mod:`._math`). Every problem is collected as a
GMAT-style message; any message means the script did not load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ._base import GmatBase
from ._commands import Assignment, Command, Maneuver, Propagate, StopCondition
from ._math import MathAssignment, parse_equation
from ._params import resolve
from ._report import ReportFile
from ._resources import (
    CELESTIAL_BODIES,
    EPHEMERIS_PROPAGATORS,
    CoordinateSystem,
    ForceModel,
    ImpulsiveBurn,
    InertSubscriber,
    PropSetup,
    StringObject,
    Variable,
)
from ._spacecraft import Spacecraft
from ._types import APIException
from ._values import Literal, parse_literal

__all__ = ["CREATABLE", "ParsedScript", "check_resources", "check_runnable", "parse_script"]

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_TARGET_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*\Z")
_PROPAGATE_RE = re.compile(
    r"Propagate\s+(?:(BackProp|Synchronized)\s+)?([A-Za-z]\w*)\s*\(([^)]*)\)\s*"
    r"(?:\{(.*)\})?\s*\Z"
)
_MANEUVER_RE = re.compile(r"Maneuver\s+([A-Za-z]\w*)\s*\(\s*([A-Za-z]\w*)\s*\)\s*\Z")
_STOP_RE = re.compile(r"([A-Za-z]\w*)\.([A-Za-z]\w*)\s*(?:=\s*(.+))?\Z")
_UNSUPPORTED_COMMANDS = (
    "Achieve",
    "BeginFiniteBurn",
    "BeginScript",
    "CallFunction",
    "ClearPlot",
    "EndFiniteBurn",
    "For",
    "If",
    "Minimize",
    "NonlinearConstraint",
    "Optimize",
    "PenDown",
    "PenUp",
    "Report",
    "Save",
    "Stop",
    "Target",
    "Toggle",
    "Vary",
    "While",
    "Write",
)


# Names of GMAT's mission-sequence commands: real GMAT refuses them as object names
# ('ReportFile object can not be named to a Command type "Report"').
_COMMAND_NAMES = frozenset(
    {
        "Achieve", "BeginFiniteBurn", "BeginMissionSequence", "BeginScript", "CallFunction",
        "ClearPlot", "Else", "EndFiniteBurn", "EndFor", "EndIf", "EndOptimize", "EndScript",
        "EndTarget", "EndWhile", "FindEvents", "For", "GMAT", "If", "Maneuver", "MarkPoint",
        "Minimize", "NonlinearConstraint", "Optimize", "PenDown", "PenUp", "Propagate",
        "Report", "RunEstimator", "RunSimulator", "Save", "Set", "Stop", "Target", "Toggle",
        "UpdateDynamicData", "Vary", "While", "Write",
    }
)  # fmt: skip


def _plot(kind: str) -> Callable[[str], GmatBase]:
    def make(name: str) -> GmatBase:
        return InertSubscriber(name, kind)

    return make


CREATABLE: dict[str, Callable[[str], GmatBase]] = {
    "Spacecraft": Spacecraft,
    "ForceModel": ForceModel,
    "Propagator": PropSetup,
    "Variable": Variable,
    "String": StringObject,
    "ImpulsiveBurn": ImpulsiveBurn,
    "ReportFile": ReportFile,
    "CoordinateSystem": CoordinateSystem,
    **{k: _plot(k) for k in ("OrbitView", "GroundTrackPlot", "XYPlot", "DynamicDataDisplay")},
}


@dataclass
class ParsedScript:
    """Objects (in creation order, after GMAT's defaults) and commands of one script."""

    objects: dict[str, GmatBase]
    commands: list[Command] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _strip_comment(line: str) -> str:
    quoted = False
    for index, char in enumerate(line):
        if char == "'":
            quoted = not quoted
        elif char == "%" and not quoted:
            return line[:index]
    return line


def _split_statements(line: str) -> Iterator[str]:
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(line):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "{[(":
            depth += 1
        elif not quoted and char in "}])":
            depth -= 1
        elif not quoted and depth == 0 and char == ";":
            yield line[start:index]
            start = index + 1
    yield line[start:]


def statements(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, statement)`` for every statement, comments and blanks removed."""
    pending, first_line = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).rstrip()
        if line.endswith("..."):
            pending += line[:-3] + " "
            first_line = first_line or number
            continue
        whole, lineno = pending + line, first_line or number
        pending, first_line = "", 0
        for statement in _split_statements(whole):
            if statement.strip():
                yield lineno, statement.strip()


def _split_assignment(statement: str) -> tuple[str, str] | None:
    body = statement[5:].strip() if statement.startswith("GMAT ") else statement
    quoted = False
    for index, char in enumerate(body):
        if char == "'":
            quoted = not quoted
        elif char == "=" and not quoted:
            return body[:index].strip(), body[index + 1 :].strip()
    return None


class _Interpreter:
    def __init__(self, defaults: dict[str, GmatBase]) -> None:
        self.result = ParsedScript(objects=dict(defaults))
        self.mission = False

    def fail(self, lineno: int, statement: str, detail: str) -> None:
        self.result.errors.append(
            f'Interpreter Exception: {detail} in line:\n   "{lineno}: {statement}"'
        )

    def statement(self, lineno: int, statement: str) -> None:
        head = statement.split(None, 1)[0]
        try:
            if head == "Create":
                self.create(statement)
            elif head == "BeginMissionSequence":
                if statement != head or self.mission:
                    raise ValueError("BeginMissionSequence is misplaced or malformed")
                self.mission = True
            elif self.mission:
                self.result.commands.append(self.command(statement))
            else:
                self.assign(statement)
        except (ValueError, APIException) as exc:
            self.fail(lineno, statement, str(exc))

    def create(self, statement: str) -> None:
        parts = statement.split(None, 2)
        if len(parts) < 3:
            raise ValueError("a Create line needs a type and at least one name")
        kind, names = parts[1], [n for n in re.split(r"[,\s]+", parts[2]) if n]
        factory = CREATABLE.get(kind)
        for name in names:
            if factory is None:
                raise ValueError(
                    f'Cannot create an object "{name}". The "{kind}" is unknown object type'
                )
            if not _NAME_RE.match(name):
                raise ValueError(f'"{name}" is not a valid object name')
            if name in _COMMAND_NAMES:
                raise ValueError(f'{kind} object can not be named to a Command type "{name}"')
            if name in self.result.objects:
                raise ValueError(f'Cannot create an object "{name}": the name is already in use')
            self.result.objects[name] = factory(name)

    def _target(self, lhs: str) -> tuple[GmatBase, str]:
        if not _TARGET_RE.match(lhs):
            raise ValueError(f'"{lhs}" is not a valid assignment target')
        head, _, rest = lhs.partition(".")
        obj = self.result.objects.get(head)
        if obj is None:
            raise ValueError(f'Nonexistent object "{head}" referenced')
        if not rest:
            if not isinstance(obj, (Variable, StringObject)):
                raise ValueError(f'"{head}" is a {obj.GetTypeName()} and cannot be assigned')
            rest = "Value"
        obj.spec(rest)
        return obj, rest

    def assign(self, statement: str) -> None:
        split = _split_assignment(statement)
        if split is None:
            raise ValueError("syntax error: expected an assignment or a Create line")
        obj, name = self._target(split[0])
        obj.assign(name, parse_literal(split[1]))

    def command(self, statement: str) -> Command:
        head = statement.split(None, 1)[0]
        if head == "Propagate":
            return self.propagate(statement)
        if head == "Maneuver":
            match = _MANEUVER_RE.match(statement)
            if match is None:
                raise ValueError("expected Maneuver <ImpulsiveBurn>(<Spacecraft>)")
            return Maneuver(statement + ";", match.group(1), match.group(2))
        if head in _UNSUPPORTED_COMMANDS:
            raise ValueError(f'the "{head}" command is not supported by this GMAT build')
        split = _split_assignment(statement)
        if split is None:
            raise ValueError(f'"{head}" is not a recognised command')
        obj, name = self._target(split[0])
        equation = parse_equation(split[1])
        if equation is not None:
            return MathAssignment(statement + ";", obj.name, name, equation)
        return Assignment(statement + ";", obj.name, name, parse_literal(split[1]))

    def propagate(self, statement: str) -> Command:
        match = _PROPAGATE_RE.match(statement)
        if match is None:
            raise ValueError("expected Propagate [BackProp] <Propagator>(<Spacecraft>) {<stop>}")
        mode, prop, sats_text, stops_text = match.groups()
        sats = [s.strip() for s in sats_text.split(",") if s.strip()]
        if not sats:
            raise ValueError("Propagate needs at least one Spacecraft")
        stop = None
        if stops_text is not None and stops_text.strip():
            stops = [s.strip() for s in stops_text.split(",") if s.strip()]
            if len(stops) > 1:
                raise ValueError("only one stopping condition per Propagate is supported")
            found = _STOP_RE.match(stops[0])
            if found is None:
                raise ValueError(f'"{stops[0]}" is not a stopping condition')
            goal = parse_literal(found.group(3)) if found.group(3) else Literal("ident", "")
            stop = StopCondition(found.group(1), found.group(2), goal)
        return Propagate(statement + ";", prop, sats, stop, mode == "BackProp")


def check_resources(objects: dict[str, GmatBase]) -> list[str]:
    """Cross-object reference errors (the Interpreter's final pass), as messages."""
    errors: list[str] = []

    def expect(name: str, kind: type[GmatBase], owner: GmatBase, what: str) -> None:
        if not isinstance(objects.get(name), kind):
            errors.append(
                f'Nonexistent {what} "{name}" referenced in the {owner.GetTypeName()} '
                f'"{owner.name}"'
            )

    for obj in objects.values():
        if isinstance(obj, Spacecraft):
            expect(obj.text("CoordinateSystem"), CoordinateSystem, obj, "CoordinateSystem")
        elif isinstance(obj, PropSetup):
            if obj.text("FM"):
                expect(obj.text("FM"), ForceModel, obj, "ForceModel")
        elif isinstance(obj, ImpulsiveBurn):
            if obj.text("CoordinateSystem") != "Local":
                expect(obj.text("CoordinateSystem"), CoordinateSystem, obj, "CoordinateSystem")
        elif isinstance(obj, ForceModel):
            bodies = obj.GetStringArrayParameter("PointMasses")
            bodies += obj.GetStringArrayParameter("PrimaryBodies")
            errors += [
                f'Unknown body "{b}" in the ForceModel "{obj.name}"'
                for b in bodies
                if b not in CELESTIAL_BODIES
            ]
        elif isinstance(obj, ReportFile):
            for parameter in obj.parameters():
                try:
                    resolve(parameter, objects.get)
                except ValueError as exc:
                    errors.append(f'ReportFile "{obj.name}": {exc}')
    return errors


def check_runnable(objects: dict[str, GmatBase]) -> list[str]:
    """What a run needs beyond valid references: Earth-centred inertial states, integrators."""
    errors = []
    for obj in objects.values():
        if isinstance(obj, Spacecraft):
            frame = objects.get(obj.text("CoordinateSystem"))
            if isinstance(frame, CoordinateSystem) and not frame.is_earth_mj2000eq():
                errors.append(
                    f'Spacecraft "{obj.name}": only Earth-centred MJ2000Eq coordinate '
                    "systems are supported"
                )
        elif isinstance(obj, PropSetup) and obj.text("Type") in EPHEMERIS_PROPAGATORS:
            errors.append(f'Propagator "{obj.name}": ephemeris propagators are not supported')
        elif isinstance(obj, ForceModel) and obj.text("CentralBody") != "Earth":
            errors.append(f'ForceModel "{obj.name}": only the central body Earth is supported')
    return errors


def parse_script(text: str, defaults: dict[str, GmatBase]) -> ParsedScript:
    """Interpret ``text``. ``errors`` on the result lists every problem found."""
    interpreter = _Interpreter(defaults)
    for lineno, statement in statements(text):
        interpreter.statement(lineno, statement)
    result = interpreter.result
    for command in result.commands:
        try:
            command.check(result.objects.get)
        except (ValueError, APIException) as exc:
            result.errors.append(
                f'Interpreter Exception: {exc} in line:\n   "{command.GetGeneratingString()}"'
            )
    result.errors += [f"Interpreter Exception: {e}" for e in check_resources(result.objects)]
    return result
