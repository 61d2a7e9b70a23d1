"""The command line's small languages: grid values, perturbations, backend options.

Grid (``--grid NAME=SPEC``):

- ``lo:hi:count``: ``count`` evenly spaced values from ``lo`` to ``hi`` inclusive;
- ``lo:hi:step=S``: ``lo, lo+S, ...`` up to ``hi``, which is included when a step
  lands on it (within 1e-9 of a step);
- ``v1,v2,v3``: explicit values (numbers where they parse, else strings);
- a JSON list ``["01 Jan 2026 12:00:00.000", "02 Jan 2026 12:00:00.000"]``, for
  values that contain ``:`` or ``,`` (epochs) or need exact types.

Perturbation (``--perturb NAME=SPEC``): ``normal:mu:sigma``, ``uniform:lo:hi``,
``lognormal:mu:sigma``; for a group of fields drawn together (names joined by ``,``):
``N1,N2,...=mvnormal:M1,M2,...:COVFILE`` (mean, one number per field; the covariance, a
CSV or ``.npy`` file, everything after the second ``:``) and
``N1,N2,N3=pointing:X,Y,Z:SIGMA_REL:SIGMA_DEG`` (nominal vector, relative magnitude
sigma, pointing sigma in degrees). Bounds (``--bounds NAME=lo:hi``) for Latin hypercubes.

Every error is a :class:`~gmat_sweep.errors.DesignError` quoting what was typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from gmat_sweep.errors import DesignError

__all__ = [
    "parse_assignment",
    "parse_assignments",
    "parse_bounds",
    "parse_grid_values",
    "parse_group_perturbation",
    "parse_option_value",
    "parse_perturbation",
    "parse_perturbations",
]

_DISTRIBUTIONS = ("normal", "uniform", "lognormal")
_GROUP_USAGE = (
    "expected mvnormal:M1,M2,...:COVFILE (a mean per field, a .csv or .npy covariance) or, "
    "for three fields, pointing:X,Y,Z:SIGMA_REL:SIGMA_DEG"
)


def parse_assignment(text: str, what: str) -> tuple[str, str]:
    """Split ``NAME=SPEC`` at the first ``=``."""
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        raise DesignError(f"{what} {text!r}: expected NAME=VALUE, e.g. Sat.SMA=7000:7200:3")
    return name, spec


def parse_assignments(
    texts: Sequence[str], option: str, parse: Callable[[str, str], Any]
) -> dict[str, Any]:
    """``NAME=SPEC`` options (``--grid``, ``--perturb``...) -> ``{NAME: parse(NAME, SPEC)}``.

    Raises:
        DesignError: a malformed assignment, or a NAME given twice.
    """
    parsed: dict[str, Any] = {}
    for text in texts:
        name, spec = parse_assignment(text, option)
        if name in parsed:
            raise DesignError(f"{option} {name} is given twice; give each field once")
        parsed[name] = parse(name, spec)
    return parsed


def _number(text: str, context: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DesignError(f"{context}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DesignError(f"{context}: {text!r} is not a finite number")
    return value


def _scalar(text: str) -> Any:
    """A number when it parses as one (int before float), else the text itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_grid_values(name: str, spec: str) -> list[Any]:
    """The values of one ``--grid`` parameter (see the module docstring)."""
    context = f"--grid {name}={spec}"
    if spec.startswith("["):
        try:
            values = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise DesignError(f"{context}: not a valid JSON list ({exc.msg})") from None
        if not isinstance(values, list) or not values:
            raise DesignError(f"{context}: the JSON list is empty")
        return values
    usage = (
        f"{context}: use lo:hi:count, lo:hi:step=S or v1,v2,...; for values that "
        'contain ":" or ",", a JSON list: NAME=["a:b", "c,d"]'
    )
    parts = spec.split(":")
    if len(parts) == 3:
        try:
            lo, hi = _number(parts[0], context), _number(parts[1], context)
        except DesignError as exc:
            raise DesignError(f"{exc}. {usage[len(context) + 2 :]}") from None
        if parts[2].startswith("step="):
            _number(parts[2][5:], context)
            return _arange(parts[0], parts[1], parts[2][5:], context)
        return _linspace(lo, hi, parts[2], context)
    if ":" in spec:
        raise DesignError(usage)
    values = [_scalar(v.strip()) for v in spec.split(",")]
    if any(v == "" for v in values):
        raise DesignError(f"{context}: empty value in the list")
    return values


def _linspace(lo: float, hi: float, count_text: str, context: str) -> list[float]:
    try:
        count = int(count_text)
    except ValueError:
        raise DesignError(f"{context}: count {count_text!r} is not a whole number") from None
    if count < 1:
        raise DesignError(f"{context}: count must be at least 1")
    if count == 1:
        return [lo]
    import numpy as np

    return [float(v) for v in np.linspace(lo, hi, count)]


def _arange(lo_text: str, hi_text: str, step_text: str, context: str) -> list[float]:
    """``lo, lo+S, ...`` computed in decimal from the typed text, so ``0:0.3:step=0.1``
    gives 0.3 and not 0.30000000000000004."""
    from decimal import Decimal

    lo, hi, step = (Decimal(t.strip()) for t in (lo_text, hi_text, step_text))
    if step == 0 or (hi - lo) / step < 0:
        raise DesignError(f"{context}: step must be non-zero and point from lo to hi")
    steps = (hi - lo) / step
    count = math.floor(steps + Decimal("1e-9")) + 1
    if count > 10_000_000:
        raise DesignError(f"{context}: {count} values is more than a grid axis should have")
    return [float(lo + i * step) for i in range(count)]


def parse_perturbation(name: str, spec: str) -> tuple[str, float, float]:
    """``normal:mu:sigma`` and friends, as the tuple the designs take."""
    context = f"--perturb {name}={spec}"
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] not in _DISTRIBUTIONS:
        import difflib

        guess = difflib.get_close_matches(parts[0], _DISTRIBUTIONS, n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        if parts[0] in ("mvnormal", "pointing"):
            hint = f" ({parts[0]} draws a group: name its fields as N1,N2,...={parts[0]}:...)"
        raise DesignError(
            f"{context}: expected DIST:a:b with DIST one of {', '.join(_DISTRIBUTIONS)}{hint}, "
            "e.g. normal:7000:5"
        )
    return parts[0], _number(parts[1], context), _number(parts[2], context)


def parse_group_perturbation(fields: tuple[str, ...], spec: str) -> tuple[Any, ...]:
    """``mvnormal:M1,...:FILE`` or ``pointing:X,Y,Z:SR:SD``, as the tuple the designs take
    (the covariance file stays a path: the design reads and checks it)."""
    context = f"--perturb {','.join(fields)}={spec}"
    family, _, rest = spec.partition(":")
    if family == "mvnormal":
        mean, sep, path = rest.partition(":")
        if sep and path.strip():
            return "mvnormal", [_number(v.strip(), context) for v in mean.split(",")], path.strip()
    elif family == "pointing" and rest.count(":") == 2:
        vector, sigma_rel, sigma_deg = rest.split(":")
        nominal = [_number(v.strip(), context) for v in vector.split(",")]
        return "pointing", nominal, _number(sigma_rel, context), _number(sigma_deg, context)
    raise DesignError(f"{context}: {_GROUP_USAGE}")


def parse_perturbations(texts: Sequence[str]) -> dict[Any, Any]:
    """``--perturb`` options -> the ``perturb`` mapping: ``{NAME: (DIST, a, b)}`` for one
    field, ``{(N1, N2, ...): spec}`` for a group (``N1,N2,...=SPEC``).

    Raises:
        DesignError: a malformed option, or a NAME (or group) given twice.
    """
    parsed: dict[Any, Any] = {}
    for text in texts:
        name, spec = parse_assignment(text, "--perturb")
        key = tuple(n.strip() for n in name.split(",")) if "," in name else name
        if key in parsed:
            raise DesignError(f"--perturb {name} is given twice; give each field once")
        if isinstance(key, tuple):
            parsed[key] = parse_group_perturbation(key, spec)
        else:
            parsed[key] = parse_perturbation(name, spec)
    return parsed


def parse_bounds(name: str, spec: str) -> tuple[float, float] | tuple[str, float, float]:
    """``lo:hi`` (uniform strata) or a perturbation spec, for ``--bounds``."""
    parts = spec.split(":")
    context = f"--bounds {name}={spec}"
    if len(parts) == 2:
        return _number(parts[0], context), _number(parts[1], context)
    if len(parts) == 3 and parts[0] in _DISTRIBUTIONS:
        return parse_perturbation(name, spec)
    raise DesignError(
        f"{context}: expected lo:hi (e.g. 6900:7300) or a distribution DIST:a:b with DIST "
        f"one of {', '.join(_DISTRIBUTIONS)}"
    )


def parse_option_value(text: str) -> Any:
    """``--backend-opt`` values: JSON where it parses (numbers, true, lists), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
