"""Math in mission-sequence assignments: GMAT's MathParser and MathTree, for real numbers.

``GMAT Y = sin(X1) + 7*sin(X2)^2 + 0.1*X3^4*sin(X1);`` after ``BeginMissionSequence``
is an assignment whose right-hand side is an equation (GMAT's ``MathParser::IsEquation``:
not a quoted string, not a number, and holding an operator or a function). Supported,
with GMAT's (MATLAB's) precedence: ``+ -``, then ``* /``, then a leading ``-``/``+``, then
``^`` (power, left to right: ``2^3^2`` is 64; ``-x^2`` is ``-(x^2)``; ``2^-1`` is 0.5);
parentheses; numbers; parameters as a ReportFile names them (a Variable, a numeric field
such as ``Burn.Element1``, a Spacecraft parameter such as ``Sat.Earth.SMA``); and the
functions of GMAT's real-function list, angles in radians: ``sin cos tan asin acos atan
atan2(y, x) log log10 exp sqrt abs`` and the unit conversions ``degToRad radToDeg deg2Rad
rad2Deg``. Matrix math (``'``, ``inv``, ``transpose``) and GMAT functions are not.

Names are checked when the script loads; a value that cannot be computed at run time
(``sqrt`` of a negative number, a division by zero) fails the run, as in GMAT.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from . import _orbit
from ._commands import Command, Lookup, RunContext, RunFailure
from ._params import ParamRef, evaluate, resolve
from ._resources import StringObject
from ._types import INTEGER_TYPE, REAL_TYPE, UNSIGNED_INT_TYPE, APIException

__all__ = ["FUNCTIONS", "Expression", "MathAssignment", "parse_equation"]

FUNCTIONS: dict[str, tuple[int, Callable[..., float]]] = {
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "asin": (1, math.asin),
    "acos": (1, math.acos),
    "atan": (1, math.atan),
    "atan2": (2, math.atan2),
    "log": (1, math.log),
    "log10": (1, math.log10),
    "exp": (1, math.exp),
    "sqrt": (1, math.sqrt),
    "abs": (1, abs),
    "degToRad": (1, math.radians),
    "deg2Rad": (1, math.radians),
    "radToDeg": (1, math.degrees),
    "rad2Deg": (1, math.degrees),
}
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)|(?P<op>[-+*/^(),]))"
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z")
_NUMERIC = (REAL_TYPE, INTEGER_TYPE, UNSIGNED_INT_TYPE)

Env = Callable[[str], float]  # a parameter's name -> its current value
Eval = Callable[[Env], float]  # a compiled (sub-)equation


class Expression:
    """A parsed equation: :meth:`evaluate` it with each parameter's current value."""

    def __init__(self, text: str, compiled: Eval, names: list[str]) -> None:
        self.text = text
        self._compiled = compiled
        self.names = names  # the parameters it reads, in order of first use

    def evaluate(self, value_of: Env) -> float:
        """The equation's value. Raises ArithmeticError or ValueError (math domain)."""
        return self._compiled(value_of)


def _divide(left: float, right: float) -> float:
    if right == 0.0:
        raise ZeroDivisionError("division by zero")
    return left / right


_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "^": math.pow,
}


def _binary(op: str, left: Eval, right: Eval) -> Eval:
    apply = _BINARY[op]
    return lambda env: apply(left(env), right(env))


class _Parser:
    """Recursive descent over the tokens of one equation."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if not text[pos:].strip():
                    break
                raise ValueError(f'unexpected "{text[pos:].strip()[0]}" in the equation')
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0
        self.names: list[str] = []

    def peek(self) -> str:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else ""

    def take(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise ValueError("the equation ends too early")
        self.at += 1
        return self.tokens[self.at - 1]

    def expect(self, op: str) -> None:
        if self.take()[1] != op:
            raise ValueError(f'expected "{op}" in the equation')

    def sum(self) -> Eval:
        node = self.product()
        while self.peek() in ("+", "-"):
            node = _binary(self.take()[1], node, self.product())
        return node

    def product(self) -> Eval:
        node = self.unary()
        while self.peek() in ("*", "/"):
            node = _binary(self.take()[1], node, self.unary())
        return node

    def unary(self) -> Eval:
        if self.peek() in ("+", "-"):
            sign = self.take()[1]
            operand = self.unary()
            return (lambda env: -operand(env)) if sign == "-" else operand
        return self.power()

    def power(self) -> Eval:
        node = self.primary()
        while self.peek() == "^":
            self.take()
            exponent = self.unary() if self.peek() in ("+", "-") else self.primary()
            node = _binary("^", node, exponent)
        return node

    def primary(self) -> Eval:
        kind, text = self.take()
        if kind == "number":
            number = float(text)
            return lambda env: number
        if kind == "name" and self.peek() != "(":
            if text not in self.names:
                self.names.append(text)
            return lambda env: env(text)
        if kind == "name":
            return self.call(text)
        if text == "(":
            node = self.sum()
            self.expect(")")
            return node
        raise ValueError(f'unexpected "{text}" in the equation')

    def call(self, name: str) -> Eval:
        if name not in FUNCTIONS:
            raise ValueError(f'"{name}" is not a math function GMAT knows')
        self.take()
        args = [self.sum()]
        while self.peek() == ",":
            self.take()
            args.append(self.sum())
        self.expect(")")
        arity, function = FUNCTIONS[name]
        if len(args) != arity:
            raise ValueError(f'"{name}" takes {arity} argument(s), not {len(args)}')
        return lambda env: float(function(*(arg(env) for arg in args)))


def parse_equation(text: str) -> Expression | None:
    """The equation ``text`` is, or None when it is a plain value (a number, a quoted
    string, a list, a name) that the caller parses as a literal.

    Raises:
        ValueError: ``text`` looks like an equation but is not a valid one.
    """
    raw = text.strip()
    if not raw or raw[0] in "'{[" or _NUMBER.match(raw) or _NAME.match(raw):
        return None
    parser = _Parser(raw)
    compiled = parser.sum()
    if parser.at != len(parser.tokens):
        raise ValueError(f'unexpected "{parser.peek()}" in the equation "{raw}"')
    return Expression(raw, compiled, parser.names)


class MathAssignment(Command):
    """``[GMAT] <target> = <equation>`` in the mission sequence (GMAT's Assignment
    command with a MathTree)."""

    TYPE_NAME = "GMAT"

    def __init__(self, text: str, owner: str, field: str, expression: Expression) -> None:
        super().__init__(text)
        self.owner = owner
        self.field = field
        self.expression = expression

    def check(self, lookup: Lookup) -> None:
        target = lookup(self.owner)
        if target is None:
            raise ValueError(f'Nonexistent object "{self.owner}" referenced')
        if target.spec(self.field).ptype not in _NUMERIC:
            raise ValueError(f'"{self.owner}.{self.field}" is not a number; it cannot take math')
        for name in self.expression.names:
            self._ref(name, lookup)

    def _ref(self, name: str, lookup: Lookup) -> ParamRef:
        ref = resolve(name, lookup)
        if ref.is_gregorian or isinstance(lookup(ref.owner), StringObject):
            raise ValueError(f'"{name}" is not a number and cannot be used in math')
        return ref

    def execute(self, ctx: RunContext) -> None:
        cache: dict[str, dict[str, float]] = {}

        def value_of(name: str) -> float:
            ref = self._ref(name, ctx.objects.get)
            return float(evaluate(ref, ctx.objects, ctx.initial_epochs, cache))

        try:
            value = self.expression.evaluate(value_of)
        except _orbit.OrbitError as exc:
            raise RunFailure(f'"{self.expression.text}": {exc}') from None
        except (ArithmeticError, ValueError) as exc:
            raise RunFailure(f'cannot evaluate "{self.expression.text}": {exc}') from None
        if not math.isfinite(value):
            raise RunFailure(f'"{self.expression.text}" evaluated to {value}')
        try:
            ctx.objects[self.owner].assign(self.field, value)
        except APIException as exc:
            raise RunFailure(str(exc)) from None
