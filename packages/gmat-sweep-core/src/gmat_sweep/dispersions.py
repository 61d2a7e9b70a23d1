"""Fields drawn together: correlated groups and burn (vector) errors, for Monte Carlo.

A group is a tuple of field paths used as a ``perturb`` key, with a joint distribution:

- ``("mvnormal", mean, cov)``: a multivariate normal. ``mean`` has one value per field;
  ``cov`` is the covariance matrix in the group's field order, as nested sequences, a
  numpy array, a pandas DataFrame (whose column names, if text, must be the fields), or
  the path of a CSV or ``.npy`` file (:func:`read_covariance`). It must be
  square of the group's size, symmetric (to :data:`COVARIANCE_TOLERANCE` of
  ``sqrt(cov[i][i] * cov[j][j])``; the two triangles are then averaged) and positive
  semi-definite: the smallest eigenvalue of its correlation matrix must be at least
  ``-COVARIANCE_TOLERANCE``. Singular (semi-definite) matrices are drawn exactly along
  their range.
- ``("pointing", nominal, magnitude_sigma_rel, angle_sigma_deg)``: a three-component
  vector (``Burn.Element1..3``, ``Sat.VX..VZ``) with a magnitude error and a pointing
  error about the ``nominal`` vector: the magnitude is ``|nominal| * (1 + s_m * z)`` with
  ``z`` standard normal; the direction is tilted from the nominal one by an angle ``theta``
  that is Rayleigh distributed with scale ``angle_sigma_deg`` (a normal error of that
  sigma on each of the two axes across the nominal direction), about a uniform azimuth.

Seed contract (extending :mod:`gmat_sweep.designs`'): a group's stream is keyed by its
field names, ``key(g) = parameter_key(",".join(fields))`` in the order given; run ``i``
draws ``u = default_rng(SeedSequence(entropy=seed, spawn_key=(i, key(g)))).random(k)``
(``k`` = 3 for pointing). So adding, removing or changing a group or a field leaves every
other field's and group's draws unchanged, and a larger sweep extends a smaller one.

- mvnormal: ``z = ndtri(u)``; ``x[j] = mean[j] + F[j][0]*z[0] + ... + F[j][r-1]*z[r-1]``,
  summed left to right, where ``F`` (:func:`covariance_factor`, ``k x r``, ``r`` the rank)
  is the diagonally pivoted Cholesky factor of the correlation matrix scaled by the
  standard deviations, computed in plain Python floats so that it is the same on every
  machine (no LAPACK).
- pointing: ``z = ndtri(u[0])``, ``theta = radians(angle_sigma_deg) * sqrt(-2 *
  log1p(-u[1]))``, ``phi = 2*pi*u[2]``; with ``n`` the nominal unit vector, ``e1`` the unit
  vector along ``n x a`` (``a`` the coordinate axis of ``n``'s smallest component, first on
  ties) and ``e2 = n x e1``: ``v = |nominal| * (1 + s_m*z) * (cos(theta)*n +
  sin(theta)*(cos(phi)*e1 + sin(phi)*e2))``, in ``math`` functions.

Every error is a :class:`~gmat_sweep.errors.DesignError` saying what is wrong.
"""

from __future__ import annotations

import abc
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gmat_sweep.distributions import _real, _uniform_rows, parameter_key
from gmat_sweep.errors import DesignError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "COVARIANCE_TOLERANCE",
    "GROUP_FAMILIES",
    "MAX_ANGLE_SIGMA_DEG",
    "MAX_MAGNITUDE_SIGMA",
    "covariance_factor",
    "group_key",
    "read_covariance",
]

GROUP_FAMILIES = ("mvnormal", "pointing")
COVARIANCE_TOLERANCE = 1e-8  # symmetry, PSD and rank, relative to the variances
MAX_MAGNITUDE_SIGMA = 0.2  # above it, 1 + s*z <= 0 (a reversed burn) becomes plausible
MAX_ANGLE_SIGMA_DEG = 20.0  # the largest possible draw (8.6 sigma) stays below 180 deg
Matrix = list[list[float]]


def group_key(fields: Sequence[str]) -> int:
    """The stream key of a group: :func:`parameter_key` of its field names joined by ``,``
    (which no field name contains, so it never equals a single field's key)."""
    return parameter_key(",".join(fields))


# --- covariance matrices -------------------------------------------------------------


def read_covariance(path: str | os.PathLike[str]) -> Matrix:
    """A covariance matrix from a ``.npy`` file (a 2-D float array) or a ``.csv`` file: rows
    of numbers separated by commas, optionally under a header row of field names, and
    optionally with a first column of row names under an empty header cell (what
    ``pandas.DataFrame.to_csv()`` writes). The names are not checked here; the group that
    uses the file checks them against its fields.

    Raises:
        DesignError: the file is missing, unreadable or not a table of numbers.
    """
    return _read_matrix(Path(path), f"covariance file {os.fspath(path)}")[1]


def _read_matrix(path: Path, where: str) -> tuple[list[str] | None, Matrix]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npy"):
        raise DesignError(f"{where}: use a .csv or .npy file (got {suffix or 'no suffix'}).")
    try:
        if suffix == ".npy":
            import numpy as np

            array = np.load(path, allow_pickle=False)
            if array.ndim != 2 or array.dtype.kind not in "iuf":
                raise DesignError(f"{where}: holds a {array.dtype} array of shape {array.shape}")
            return None, [[float(v) for v in row] for row in array.tolist()]
        import csv

        with open(path, newline="", encoding="utf-8-sig") as f:
            table = [[c.strip() for c in row] for row in csv.reader(f) if any(map(str.strip, row))]
    except (OSError, ValueError) as exc:
        raise DesignError(f"{where}: cannot read it ({exc}).") from exc
    names: list[str] | None = None
    if table and not _numeric(table[0][-1]):
        names, table = table[0], table[1:]
        if names and names[0] == "":  # pandas' index column
            names = names[1:]
            table = [row[1:] for row in table]
    matrix: Matrix = []
    for r, row in enumerate(table, start=2 if names is not None else 1):
        if not all(_numeric(c) for c in row):
            bad = next(c for c in row if not _numeric(c))
            raise DesignError(f"{where}: line {r} holds {bad!r}, which is not a number.")
        matrix.append([float(c) for c in row])
    return names, matrix


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_covariance(cov: Any, fields: tuple[str, ...], where: str) -> Matrix:
    """The validated, exactly symmetric covariance matrix of ``fields``."""
    k = len(fields)
    names: list[str] | None = None
    if isinstance(cov, (str, os.PathLike)):
        names, cov = _read_matrix(Path(cov), f"{where}: covariance file {os.fspath(cov)}")
    elif hasattr(cov, "columns") and hasattr(cov, "to_numpy"):  # a pandas DataFrame
        labels = list(cov.columns)
        names = labels if all(isinstance(c, str) for c in labels) else None
        cov = cov.to_numpy()
    if names is not None and names != list(fields):
        raise DesignError(
            f"{where}: the covariance's columns are {names}, not the group's fields "
            f"{list(fields)} in that order; reorder the covariance or the group."
        )
    rows = cov.tolist() if hasattr(cov, "tolist") else cov
    ok = isinstance(rows, Sequence) and not isinstance(rows, str)
    if (
        not ok
        or len(rows) != k
        or any(not isinstance(r, Sequence) or isinstance(r, str) or len(r) != k for r in rows)
    ):
        shape = "x".join(map(str, getattr(cov, "shape", ()))) or _shape(rows)
        raise DesignError(
            f"{where}: the covariance must be a square {k}x{k} matrix (a row and a column per "
            f"field, in the group's order); got {shape}."
        )
    a = [[_real(v, f"{where}: cov[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(rows)]
    tol = COVARIANCE_TOLERANCE
    for i in range(k):
        if a[i][i] < 0:
            raise DesignError(
                f"{where}: the variance of {fields[i]} (cov[{i}][{i}]) is {a[i][i]}; "
                "a variance cannot be negative."
            )
        for j in range(i):
            if abs(a[i][j] - a[j][i]) > tol * math.sqrt(a[i][i] * a[j][j]):
                raise DesignError(
                    f"{where}: the covariance is not symmetric: cov[{j}][{i}] = {a[j][i]} but "
                    f"cov[{i}][{j}] = {a[i][j]} ({fields[j]}, {fields[i]})."
                )
    s = [[(a[i][j] + a[j][i]) / 2 for j in range(k)] for i in range(k)]
    _check_semidefinite(s, fields, where)
    return s


def _shape(rows: Any) -> str:
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        return repr(rows)
    return f"{len(rows)} rows of lengths {[len(r) if isinstance(r, Sequence) else 1 for r in rows]}"


def _correlation(s: Matrix) -> Matrix:
    """``s[i][j] / (sd[i] * sd[j])``, exactly 1 on the diagonal, 0 where a variance is 0."""
    sd = [math.sqrt(s[i][i]) for i in range(len(s))]
    k = len(s)
    return [
        [(1.0 if i == j else s[i][j] / (sd[i] * sd[j])) if sd[i] and sd[j] else 0.0
         for j in range(k)]
        for i in range(k)
    ]  # fmt: skip


def _check_semidefinite(s: Matrix, fields: tuple[str, ...], where: str) -> None:
    import numpy as np

    k = len(s)
    for i in range(k):
        for j in range(k):
            if s[i][i] == 0 and s[i][j] != 0:
                raise DesignError(
                    f"{where}: the covariance is not positive semi-definite: {fields[i]} has "
                    f"zero variance but covariance {s[i][j]} with {fields[j]}."
                )
    r = np.array(_correlation(s))
    lowest = float(np.linalg.eigvalsh(r)[0])
    if lowest < -COVARIANCE_TOLERANCE:
        worst = max(((abs(r[i][j]), i, j) for i in range(k) for j in range(i)), default=(0, 0, 0))
        hint = (
            f" (the correlation of {fields[worst[2]]} and {fields[worst[1]]} is "
            f"{r[worst[1]][worst[2]]:.6g}, beyond +-1)"
            if worst[0] > 1
            else ""
        )
        raise DesignError(
            f"{where}: the covariance is not positive semi-definite: the smallest eigenvalue "
            f"of its correlation matrix is {lowest:.6g} (of the covariance itself: "
            f"{float(np.linalg.eigvalsh(np.array(s))[0]):.6g}), below the tolerance "
            f"-{COVARIANCE_TOLERANCE:g}{hint}. Check the matrix; if it comes from a file "
            "printed with few digits, write it with full precision (or as .npy)."
        )


def covariance_factor(cov: Sequence[Sequence[float]]) -> Matrix:
    """``F`` (``k`` rows, ``r`` columns, ``r`` the numerical rank) with ``F Fᵀ = cov`` to
    :data:`COVARIANCE_TOLERANCE` relative: the diagonally pivoted Cholesky factor of the
    correlation matrix (largest remaining pivot first, the lowest index on ties; stopped
    when it falls to the tolerance), each row scaled by its standard deviation. Plain
    Python floats, so the factor is bit-identical on every machine. ``cov`` must already
    be symmetric positive semi-definite (``mvnormal`` groups check that)."""
    s = [[float(v) for v in row] for row in cov]
    k = len(s)
    a = _correlation(s)
    left = [i for i in range(k) if s[i][i] > 0]
    columns: list[list[float]] = []
    while left:
        p = max(left, key=lambda i: (a[i][i], -i))
        if a[p][p] <= COVARIANCE_TOLERANCE:
            break
        pivot = math.sqrt(a[p][p])
        left.remove(p)
        col = [0.0] * k
        col[p] = pivot
        for i in left:
            col[i] = a[i][p] / pivot
        for i in left:
            for j in left:
                a[i][j] -= col[i] * col[j]
        columns.append(col)
    return [[math.sqrt(s[i][i]) * col[i] for col in columns] for i in range(k)]


# --- groups --------------------------------------------------------------------------


class _Group(abc.ABC):
    """A validated group: its fields, stream key, draws and header record."""

    family: ClassVar[str]

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields, self.key = fields, group_key(fields)

    @abc.abstractmethod
    def columns(self, seed: int, a: int, b: int) -> list[list[float]]:
        """Runs ``a..b-1``: one list of values per field (never depends on ``a``, ``b``)."""

    @abc.abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The family's parameters, JSON-serialisable."""

    def to_header(self) -> dict[str, Any]:
        return {"fields": [*self.fields], "family": self.family, **self.parameters()}


class _MvNormal(_Group):
    family = "mvnormal"

    def __init__(self, fields: tuple[str, ...], mean: Any, cov: Any, where: str) -> None:
        super().__init__(fields)
        self.mean = _vector(mean, len(fields), f"{where}: mvnormal mean")
        self.cov = _check_covariance(cov, fields, where)
        self.factor = covariance_factor(self.cov)

    def parameters(self) -> dict[str, Any]:
        return {"mean": [*self.mean], "cov": [[*r] for r in self.cov]}

    def columns(self, seed: int, a: int, b: int) -> list[list[float]]:
        import numpy as np
        from scipy.special import ndtri

        z: npt.NDArray[np.float64] = ndtri(_uniform_rows(seed, a, b, self.key, len(self.fields)))
        out = []
        for mean, row in zip(self.mean, self.factor, strict=True):
            x = np.full(b - a, mean)
            for c, f in enumerate(row):  # one IEEE operation at a time: no BLAS, no FMA
                x = x + f * z[:, c]
            out.append(x.tolist())
        return out


class _Pointing(_Group):
    family = "pointing"

    def __init__(self, fields: tuple[str, ...], spec: Sequence[Any], where: str) -> None:
        super().__init__(fields)
        if len(fields) != 3 or len(spec) != 4:
            raise DesignError(
                f"{where}: write ('pointing', nominal_vector, magnitude_sigma_rel, "
                "angle_sigma_deg) for a group of three fields (x, y, z components, e.g. "
                f"Burn.Element1..3); got {len(fields)} fields and {spec!r}."
            )
        self.nominal = _vector(spec[1], 3, f"{where}: pointing nominal vector")
        self.norm = _norm(self.nominal)
        if self.norm == 0:
            raise DesignError(f"{where}: the nominal vector is zero, so it has no direction.")
        self.sm = _real(spec[2], f"{where}: pointing magnitude_sigma_rel")
        self.sa = _real(spec[3], f"{where}: pointing angle_sigma_deg")
        if not (0 <= self.sm <= MAX_MAGNITUDE_SIGMA and 0 <= self.sa <= MAX_ANGLE_SIGMA_DEG):
            raise DesignError(
                f"{where}: pointing needs 0 <= magnitude_sigma_rel <= {MAX_MAGNITUDE_SIGMA} "
                f"(a relative error) and 0 <= angle_sigma_deg <= {MAX_ANGLE_SIGMA_DEG:g}; "
                f"got {self.sm} and {self.sa}."
            )
        if self.sm == 0 and self.sa == 0:
            raise DesignError(f"{where}: both sigmas are zero; every run would be the nominal.")
        n = [v / self.norm for v in self.nominal]
        axis = min(range(3), key=lambda i: (abs(n[i]), i))
        e1 = _cross(n, [1.0 if i == axis else 0.0 for i in range(3)])
        length = _norm(e1)
        e1 = [v / length for v in e1]
        self.basis = (n, e1, _cross(n, e1))

    def parameters(self) -> dict[str, Any]:
        return {
            "nominal": [*self.nominal],
            "magnitude_sigma_rel": self.sm,
            "angle_sigma_deg": self.sa,
        }

    def columns(self, seed: int, a: int, b: int) -> list[list[float]]:
        from scipy.special import ndtri

        u = _uniform_rows(seed, a, b, self.key, 3)
        z = ndtri(u[:, 0]).tolist()
        n, e1, e2 = self.basis
        scale = math.radians(self.sa)
        out: list[list[float]] = [[], [], []]
        for zm, (_, u1, u2) in zip(z, u.tolist(), strict=True):
            theta = scale * math.sqrt(-2.0 * math.log1p(-u1))
            phi = 2.0 * math.pi * u2
            ct, st, cp, sp = math.cos(theta), math.sin(theta), math.cos(phi), math.sin(phi)
            m = self.norm * (1.0 + self.sm * zm)
            for c in range(3):
                out[c].append(m * (ct * n[c] + st * (cp * e1[c] + sp * e2[c])))
        return out


def _norm(v: Sequence[float]) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])  # not sum(): 3.12 compensates


def _cross(p: Sequence[float], q: Sequence[float]) -> list[float]:
    return [p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0]]


def _vector(value: Any, k: int, where: str) -> list[float]:
    items = value.tolist() if hasattr(value, "tolist") else value
    if not isinstance(items, Sequence) or isinstance(items, str) or len(items) != k:
        raise DesignError(f"{where} needs {k} numbers, one per field; got {value!r}.")
    return [_real(v, f"{where} #{i}") for i, v in enumerate(items)]


_HEADER_KEYS = {
    "mvnormal": ("mean", "cov"),
    "pointing": ("nominal", "magnitude_sigma_rel", "angle_sigma_deg"),
}


def _group_spec_from_header(g: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """``(fields, perturb value)`` of the group that :meth:`_Group.to_header` recorded."""
    family = g["family"]
    if family not in _HEADER_KEYS:
        raise DesignError(
            f"unknown group family {family!r} in the manifest header (known: "
            f"{', '.join(GROUP_FAMILIES)}); use the gmat-sweep version that wrote it."
        )
    return tuple(g["fields"]), (family, *(g[k] for k in _HEADER_KEYS[family]))


def _parse_group(fields: tuple[str, ...], spec: Any, where: str) -> _Group:
    """The group of ``fields`` (names already checked) drawn as ``spec`` describes."""
    if len(set(fields)) < len(fields):
        raise DesignError(f"{where}: the group names a field twice; name each field once.")
    if isinstance(spec, (tuple, list)) and spec and spec[0] == "mvnormal":
        if len(spec) != 3:
            raise DesignError(f"{where}: write ('mvnormal', mean, cov); got {spec!r}.")
        return _MvNormal(fields, spec[1], spec[2], where)
    if isinstance(spec, (tuple, list)) and spec and spec[0] == "pointing":
        return _Pointing(fields, spec, where)
    raise DesignError(
        f"{where}: a group of fields needs a joint distribution: ('mvnormal', mean, cov) or "
        "('pointing', nominal_vector, magnitude_sigma_rel, angle_sigma_deg); got "
        f"{spec!r}. Give each field its own key to draw it independently."
    )
