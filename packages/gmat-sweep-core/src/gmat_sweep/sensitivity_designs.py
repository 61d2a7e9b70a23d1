"""Sensitivity designs: Sobol' (Saltelli) samples and Morris trajectories, drawn by SALib.

- :class:`Sobol`: ``n`` base points of a scrambled Sobol' sequence in ``2D`` dimensions
  (``SALib.sample.sobol``, Saltelli's scheme), giving ``n*(D+2)`` runs, or
  ``n*(2D+2)`` with ``calc_second_order``, in SALib's order: for each base point ``j``,
  the rows ``A_j``, ``AB_j`` for each parameter, (``BA_j`` for each parameter,) ``B_j``.
- :class:`Morris`: ``trajectories`` one-at-a-time paths of ``D+1`` runs each on a grid of
  ``levels`` levels per parameter (``SALib.sample.morris``); each step moves one
  parameter by ``levels / (2 * (levels - 1))`` of its range.

SALib draws points in the unit hypercube; a parameter's value is its distribution's
inverse CDF at the point, as for a Latin hypercube: ``(lo, hi)`` bounds or
``("uniform", lo, hi)``, ``("normal", mu, sigma)``, ``("lognormal", mu, sigma)``, or a
frozen ``scipy.stats`` distribution (:mod:`gmat_sweep.distributions`). Morris takes
bounds only: its grid includes both ends of each range. Parameters are independent
(the indices assume it), so groups of fields are refused.

Both designs are tables of runs (:class:`~gmat_sweep.designs.Samples`): the table is
drawn once, when the design is made, and a sweep stores it beside its manifest
(``design.parquet``) with its sha256 in the header, next to how it was drawn (SALib's
sampler and version, the seed, the distributions, the base sample size or the
trajectories and levels). Resume, and :func:`gmat_sweep.analysis.sensitivity`, read
that table, so neither depends on SALib drawing the same numbers again, and resuming
does not need SALib at all. If the table is lost, it is drawn again with SALib and
accepted only if its hash is the recorded one. A run has no seed of its own.

SALib is an optional dependency (``pip install "gmat-sweep-core[sensitivity]"``),
imported only to draw a design; without it, making one raises a ``DesignError`` that
says so. Every error is a :class:`~gmat_sweep.errors.DesignError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gmat_sweep.designs import Samples, _check_name, _check_seed, _samples_from_header, _whole
from gmat_sweep.distributions import Distribution, _Dist, _dist_from_header, _parse_dist
from gmat_sweep.errors import DesignError, GmatSweepError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "INSTALL_HINT",
    "SENSITIVITY_KINDS",
    "Morris",
    "Sobol",
    "import_salib",
    "sensitivity_from_header",
]

#: The pip line that installs SALib along with gmat-sweep-core.
INSTALL_HINT = 'pip install "gmat-sweep-core[sensitivity]"'
#: The table of runs beside the manifest (the orchestrator writes it).
TABLE_NAME = "design.parquet"
#: Design kinds whose runs :func:`gmat_sweep.analysis.sensitivity` can analyse.
SENSITIVITY_KINDS = ("sobol", "morris")


def import_salib(module: str, what: str, error: type[GmatSweepError] = DesignError) -> Any:
    """Import a SALib module, or raise ``error`` saying that ``what`` needs SALib and
    how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise error(
            f"{what} needs SALib, which is not installed here ({exc}). Install it with:\n"
            f"    {INSTALL_HINT}"
        ) from exc


def _salib_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("SALib")
    except PackageNotFoundError:  # importable but not installed as a distribution
        return "unknown"


def _parse_perturb(perturb: object, label: str, *, bounds_only: bool) -> dict[str, _Dist]:
    example = "{'Sat.SMA': (6900.0, 7100.0)}"
    if not isinstance(perturb, Mapping) or not perturb:
        raise DesignError(
            f"a {label} design needs at least one parameter, e.g. {example}; got {perturb!r}."
        )
    dists: dict[str, _Dist] = {}
    for name, spec in perturb.items():
        if isinstance(name, tuple):
            raise DesignError(
                f"group {name!r}: {label} indices are those of independent fields, so fields "
                "cannot be drawn together; give each field its own distribution."
            )
        where = f"parameter {name!r}"
        dist = _parse_dist(spec, where, bounds_ok=True)
        if bounds_only and dist.family != "uniform":
            raise DesignError(
                f"{where}: Morris steps over a grid that includes both ends of each range, so "
                f"it needs bounds (lo, hi) or ('uniform', lo, hi), not a {dist.family} "
                "distribution; use sobol for other distributions."
            )
        dists[_check_name(name, "parameter")] = dist
    return dists


def _values(dists: Mapping[str, _Dist], unit: npt.NDArray[np.float64]) -> pd.DataFrame:
    """SALib's unit-hypercube points (one row per run) mapped to the parameters' values."""
    import numpy as np
    import pandas as pd

    columns = {}
    for j, (name, dist) in enumerate(dists.items()):
        values = dist.transform(np.ascontiguousarray(unit[:, j], dtype=np.float64))
        bad = np.flatnonzero(~np.isfinite(values))[:5].tolist()
        if bad:
            raise DesignError(
                f"parameter {name!r}: SALib's points at runs {bad} fall where its "
                "distribution is infinite; bound it (scipy.stats.truncnorm) or use another seed."
            )
        columns[name] = values
    frame: pd.DataFrame = pd.DataFrame(columns)
    return frame


class _SensitivityDesign(Samples):
    """A table of runs drawn by a SALib sampler (see the module docstring)."""

    sampler: ClassVar[str]  # the SALib module that drew the table
    _arguments: ClassVar[tuple[str, ...]]  # what else the sampler was called with

    def _set_up(
        self, dists: dict[str, _Dist], seed: int, table: pd.DataFrame, version: str
    ) -> None:
        Samples.__init__(self, table)
        self._dists, self.sample_seed, self.salib_version = dists, seed, version

    @property
    def distributions(self) -> dict[str, Distribution]:
        """Each parameter's distribution, as ``perturb`` takes it."""
        return {p: _dist_from_header(d.to_header(), repr(p)) for p, d in self._dists.items()}

    def to_header(self) -> dict[str, Any]:
        return {
            **super().to_header(),  # kind, n, parameters, dtypes, sha256 of the table
            **{key: getattr(self, key) for key in self._arguments},
            "seed": self.sample_seed,
            "sampler": self.sampler,
            "salib_version": self.salib_version,
            "distributions": {p: d.to_header() for p, d in self._dists.items()},
        }

    @classmethod
    def _restore(cls, header: Mapping[str, Any], table: Samples) -> _SensitivityDesign:
        """The design of ``header`` around its table, as read back (no SALib needed)."""
        perturb, seed = _perturb_and_seed(header)
        dists = {p: _parse_dist(d, repr(p), bounds_ok=True) for p, d in perturb.items()}
        design = cls.__new__(cls)
        for key in cls._arguments:
            setattr(design, key, header[key])
        design._set_up(dists, seed, table.to_frame(), str(header["salib_version"]))
        return design

    @classmethod
    def _redraw(cls, header: Mapping[str, Any]) -> _SensitivityDesign:
        """The design of ``header`` drawn again by SALib, from its recorded arguments."""
        raise NotImplementedError


def _perturb_and_seed(header: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    names = [*header["parameters"]]
    perturb = {p: _dist_from_header(header["distributions"][p], repr(p)) for p in names}
    return perturb, _whole(header["seed"], "the header's seed", 0)


class Sobol(_SensitivityDesign):
    """Saltelli's sample for Sobol' indices: ``n`` base points (a power of 2) of a
    scrambled Sobol' sequence, ``n*(D+2)`` runs (``n*(2D+2)`` with
    ``calc_second_order``) for the ``D`` parameters in ``perturb``; ``seed=None`` draws
    a seed, kept as ``.sample_seed`` for the manifest. Values as in the module docstring."""

    kind = "sobol"
    sampler = "SALib.sample.sobol"
    _arguments = ("base_samples", "calc_second_order", "scramble")
    scramble = True  # SALib's LMS + digital shift scrambling, always

    def __init__(
        self,
        n: int,
        perturb: Mapping[str, Distribution],
        seed: int | None = None,
        *,
        calc_second_order: bool = False,
    ) -> None:
        n = _whole(n, "n (the base sample of a Sobol' design)", 1)
        if n & (n - 1):
            low = 1 << (n.bit_length() - 1)
            raise DesignError(
                f"n={n}: Sobol' points are balanced only in powers of 2; use n={low} or "
                f"n={2 * low}."
            )
        if not isinstance(calc_second_order, bool):
            raise DesignError(f"calc_second_order must be True or False; got {calc_second_order!r}")
        dists = _parse_perturb(perturb, "Sobol'", bounds_only=False)
        seed = _check_seed(seed)
        self.base_samples, self.calc_second_order = n, calc_second_order
        sampler = import_salib(self.sampler, "a Sobol' design")
        unit = sampler.sample(
            _unit_problem(dists), n, calc_second_order=calc_second_order, scramble=True, seed=seed
        )
        self._set_up(dists, seed, _values(dists, unit), _salib_version())

    @classmethod
    def _redraw(cls, header: Mapping[str, Any]) -> Sobol:
        perturb, seed = _perturb_and_seed(header)
        second = header["calc_second_order"]
        return cls(header["base_samples"], perturb, seed, calc_second_order=second)


class Morris(_SensitivityDesign):
    """Morris' elementary-effects design: ``trajectories`` (at least 2) paths of ``D+1``
    runs over a grid of ``levels`` (even, at least 2) levels per parameter, for the
    ``D`` parameters in ``perturb`` (bounds only); ``seed=None`` draws a seed, kept as
    ``.sample_seed`` for the manifest."""

    kind = "morris"
    sampler = "SALib.sample.morris"
    _arguments = ("trajectories", "levels")

    def __init__(
        self,
        trajectories: int,
        perturb: Mapping[str, Distribution],
        seed: int | None = None,
        *,
        levels: int = 4,
    ) -> None:
        trajectories = _whole(trajectories, "trajectories (of a Morris design)", 2)
        levels = _whole(levels, "levels (of a Morris design)", 2)
        if levels % 2:
            raise DesignError(
                f"levels={levels}: Morris' grid needs an even number of levels (e.g. 4) "
                "for its steps to sample every level equally."
            )
        dists = _parse_perturb(perturb, "Morris", bounds_only=True)
        seed = _check_seed(seed)
        self.trajectories, self.levels = trajectories, levels
        sampler = import_salib(self.sampler, "a Morris design")
        unit = sampler.sample(_unit_problem(dists), trajectories, num_levels=levels, seed=seed)
        self._set_up(dists, seed, _values(dists, unit), _salib_version())

    @classmethod
    def _redraw(cls, header: Mapping[str, Any]) -> Morris:
        perturb, seed = _perturb_and_seed(header)
        return cls(header["trajectories"], perturb, seed, levels=header["levels"])


def _unit_problem(dists: Mapping[str, _Dist]) -> dict[str, Any]:
    """SALib's problem for the unit hypercube over these parameters."""
    return {"num_vars": len(dists), "names": [*dists], "bounds": [[0.0, 1.0]] * len(dists)}


_CLASSES: dict[str, type[_SensitivityDesign]] = {"sobol": Sobol, "morris": Morris}


def sensitivity_from_header(
    header: Mapping[str, Any], table_path: Path | None
) -> _SensitivityDesign:
    """The Sobol' or Morris design a manifest header describes, with its table read from
    ``table_path`` (checked against the header's sha256); without a table, drawn again
    with SALib and accepted only if it is the same table.

    Raises:
        DesignError: the table differs from the recorded one, or is missing and SALib
            (absent, or another version) draws a different one.
        KeyError, TypeError: a malformed header (:func:`design_from_header` reports it).
    """
    cls = _CLASSES[header["kind"]]
    if table_path is not None:
        names = [*header["parameters"]]
        return cls._restore(header, _samples_from_header(header, names, table_path))
    recorded = header.get("salib_version")
    try:
        design = cls._redraw(header)
    except DesignError as exc:
        raise DesignError(
            f"the sweep's table of runs ({TABLE_NAME}) is missing, and it cannot be drawn "
            f"again here: {exc}"
        ) from exc
    if design.table_sha256() != header["sha256"]:
        raise DesignError(
            f"the sweep's table of runs ({TABLE_NAME}) is missing, and SALib "
            f"{design.salib_version} draws a different one than SALib {recorded} did; "
            f"restore {TABLE_NAME} beside the manifest (or install SALib=={recorded})."
        )
    return design
