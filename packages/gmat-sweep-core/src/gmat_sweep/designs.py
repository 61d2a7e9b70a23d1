"""Designs: the runs of a sweep, as ``run_id -> (overrides, seed)``.

Four kinds: :class:`Grid` (full factorial), :class:`Samples` (one run per table row),
:class:`MonteCarlo` (independent draws) and :class:`LatinHypercube` (stratified draws).
Every design is random access (:meth:`Design.overrides`) and streams its runs lazily in
chunks (:meth:`Design.iter_runs`); none ever materialises all its runs. Values are plain
Python ``float``/``int``/``str``/``bool``, identical in every process on the same numpy
and scipy versions. Every error is a :class:`~gmat_sweep.errors.DesignError`.

Parameter names are GMAT field paths (``Sat.SMA``, ``Burn.Element1``) or bare Variable
names (``TOF``), matching ``^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$``.

Seed contract. ``key(p)`` (:func:`parameter_key`) is the first 4 bytes, big-endian, of the
sha256 of the UTF-8 name. Monte Carlo run ``i``, parameter ``p``: ``u`` is the first
``random()`` of ``numpy.random.default_rng(SeedSequence(entropy=seed, spawn_key=(i,
key(p))))`` (PCG64), mapped by the inverse CDF: normal ``mu + sigma*ndtri(u)``, uniform
``lo + (hi-lo)*u``, lognormal ``exp(mu + sigma*ndtri(u))``, frozen scipy ``dist.ppf(u)``.
So adding a parameter leaves the others' draws alone and a larger ``n`` extends a smaller
one (:func:`extended`). A Latin hypercube draws each parameter's n points from
``scipy.stats.qmc.LatinHypercube(d=1, rng=default_rng(SeedSequence(entropy=seed,
spawn_key=(key(p),))))``; more points re-stratify every run, so it cannot be extended. The
per-run seed of both is ``SeedSequence(entropy=seed, spawn_key=(i,)).generate_state(2,
uint32)`` read as one 64-bit int, word 0 low (= ``generate_state(1, uint64)[0]``).
A Monte Carlo ``perturb`` may also hold groups of fields drawn jointly (a tuple of names
as the key: correlated normals, burn errors); their streams are keyed by their field names
the same way (:mod:`gmat_sweep.dispersions`). A Latin hypercube refuses groups.
"""

from __future__ import annotations

import abc
import hashlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from gmat_sweep.dispersions import _Group, _group_spec_from_header, _parse_group
from gmat_sweep.distributions import (
    DISTRIBUTIONS,
    Distribution,
    _Dist,
    _dist_from_header,
    _draws,
    _item,
    _numpy_draw,
    _parse_dist,
    parameter_key,
)
from gmat_sweep.errors import DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DISTRIBUTIONS",
    "SEED_SCHEME",
    "SEED_SCHEME_GROUPS",
    "Design",
    "Distribution",
    "Grid",
    "LatinHypercube",
    "MonteCarlo",
    "Run",
    "Samples",
    "design_from_header",
    "extended",
    "parameter_key",
]

SEED_SCHEME = "seedseq-pcg64-sha256key-v1"  # recorded in headers; a change must bump it
SEED_SCHEME_GROUPS = f"{SEED_SCHEME}+groups-v1"  # headers of designs with groups
CHUNK = 1024  # runs generated per vectorised step
Run: TypeAlias = "tuple[int, dict[str, Any], int | None]"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


# --- validation ----------------------------------------------------------------------


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DesignError(
            f"{what} {name!r} is not a GMAT field path: use 'Object.Field' such as 'Sat.SMA' "
            "or a Variable name such as 'TOF' (letters, digits, '_', joined by dots)."
        )
    return name


def _plain(value: object, where: str) -> bool | int | float | str:
    """``value`` as a plain Python scalar (numpy scalars converted); NaN/inf refused."""
    item = _item(value)
    if isinstance(item, float) and not math.isfinite(item):
        raise DesignError(f"{where} is {item!r}; GMAT needs finite numbers, replace it.")
    if not isinstance(item, (bool, int, float, str)):
        raise DesignError(
            f"{where} is {value!r} ({type(value).__name__}); use numbers, strings or booleans."
        )
    return item


def _whole(value: object, what: str, minimum: int) -> int:
    item = _item(value)
    if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
        raise DesignError(f"{what} must be a whole number >= {minimum}; got {value!r}.")
    return item


def _check_seed(seed: object) -> int:
    if seed is not None:
        return _whole(seed, "seed", 0)
    import numpy as np

    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy


# --- designs -------------------------------------------------------------------------


class Design(abc.ABC):
    """A sweep's runs. ``run_id`` counts from 0; :meth:`iter_runs` and random access
    (:meth:`overrides`, :meth:`seed_for`) agree run by run, bit for bit."""

    kind: ClassVar[str]
    seed: int | None = None
    _n: int
    _names: tuple[str, ...]

    def __len__(self) -> int:
        return self._n

    @property
    def parameters(self) -> tuple[str, ...]:
        """The overridden field paths, in the order of every overrides dict."""
        return self._names

    @abc.abstractmethod
    def _columns(self, a: int, b: int) -> list[list[Any]]:
        """Values of runs ``a..b-1``: one list of plain values per parameter."""

    @abc.abstractmethod
    def to_header(self) -> dict[str, Any]:
        """JSON-serialisable description; :func:`design_from_header` rebuilds the design."""

    def _header(self, **extra: Any) -> dict[str, Any]:
        return {"kind": self.kind, "n": self._n, "parameters": [*self._names], **extra}

    def _check_run_id(self, run_id: object) -> int:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or not 0 <= run_id < self._n:
            raise DesignError(
                f"run_id {run_id!r} is outside this {self.kind} design of {self._n} runs "
                f"(valid: 0..{self._n - 1})."
            )
        return run_id

    def overrides(self, run_id: int) -> dict[str, Any]:
        """The overrides of one run: field path -> plain Python value."""
        i = self._check_run_id(run_id)
        return {p: col[0] for p, col in zip(self._names, self._columns(i, i + 1), strict=True)}

    def seed_for(self, run_id: int) -> int | None:
        """The run's own 64-bit seed (Monte Carlo, Latin hypercube), else None."""
        i = self._check_run_id(run_id)
        return None if self.seed is None else int(_numpy_draw(self.seed, i, None))

    def iter_runs(self, start: int = 0, stop: int | None = None) -> Iterator[Run]:
        """Lazily yield ``(run_id, overrides, seed)`` for ``start <= run_id < stop``
        (default: to the end), generating :data:`CHUNK` runs at a time."""
        stop = self._n if stop is None else stop
        for v in (start, stop):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= self._n:
                raise DesignError(
                    f"iter_runs({start!r}, {stop!r}) is outside 0..{self._n}, the runs of "
                    f"this {self.kind} design."
                )
        return self._iter(start, stop)

    def _iter(self, start: int, stop: int) -> Iterator[Run]:
        for a in range(start, stop, CHUNK):
            b = min(a + CHUNK, stop)
            seeds = (
                [None] * (b - a) if self.seed is None else _draws(self.seed, a, b, None).tolist()
            )
            for j, row in enumerate(zip(*self._columns(a, b), strict=True)):
                yield a + j, dict(zip(self._names, row, strict=True)), seeds[j]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Design) and self.to_header() == other.to_header()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._n} runs over {', '.join(self._names)}>"


class Grid(Design):
    """Full factorial over ``params`` in the order given, last parameter fastest
    (``itertools.product`` order). Run ``i`` is decoded in mixed radix, never listed.
    Values: numbers, strings or booleans (numpy arrays welcome), finite, no duplicates."""

    kind = "grid"

    def __init__(self, params: Mapping[str, Iterable[Any]]) -> None:
        if not isinstance(params, Mapping) or not params:
            raise DesignError(
                f"a grid needs at least one parameter, e.g. Grid({{'Sat.SMA': [7000.0, 7100.0]}});"
                f" got {params!r}."
            )
        self._values: dict[str, tuple[Any, ...]] = {}
        for name, values in params.items():
            _check_name(name, "grid parameter")
            items: Any = None
            unordered = isinstance(values, (str, bytes, Mapping, set, frozenset))
            if isinstance(values, Iterable) and not unordered:
                items = values.tolist() if hasattr(values, "tolist") else list(values)
            if not isinstance(items, list):
                raise DesignError(
                    f"grid parameter {name!r} needs an ordered list of values such as "
                    f"[7000.0, 7100.0]; got {values!r}."
                )
            if not items:
                raise DesignError(f"grid parameter {name!r} has no values; give it at least one.")
            seen: dict[tuple[bool, Any], int] = {}
            for k, v in enumerate(items):
                v = _plain(v, f"grid parameter {name!r} value #{k}")
                if (type(v) is bool, v) in seen:
                    raise DesignError(
                        f"grid parameter {name!r} lists {v!r} twice (positions "
                        f"{seen[type(v) is bool, v]} and {k}); remove the duplicate."
                    )
                seen[type(v) is bool, v] = k
            self._values[name] = tuple(v for _, v in seen)
        self._names = tuple(self._values)
        self._n = math.prod(len(v) for v in self._values.values())
        lengths = [len(v) for v in self._values.values()]
        self._strides = [math.prod(lengths[k + 1 :]) for k in range(len(lengths))]

    @property
    def values(self) -> Mapping[str, tuple[Any, ...]]:
        """Each parameter's values (plain Python), in grid order; read-only."""
        return MappingProxyType(self._values)

    def _columns(self, a: int, b: int) -> list[list[Any]]:
        return [
            [vals[(i // stride) % len(vals)] for i in range(a, b)]
            for vals, stride in zip(self._values.values(), self._strides, strict=True)
        ]

    def to_header(self) -> dict[str, Any]:
        return self._header(seed=None, values={k: [*v] for k, v in self._values.items()})


class Samples(Design):
    """One run per row of ``table`` (run_id = row position); columns are field paths
    holding integers, floats, booleans or strings (dtypes kept), no missing values.
    The manifest header holds a hash, not the table: store it with :meth:`write_table`."""

    kind = "samples"

    def __init__(self, table: pd.DataFrame) -> None:
        import numpy as np
        import pandas as pd

        if not isinstance(table, pd.DataFrame) or 0 in table.shape:
            raise DesignError(
                "Samples needs a pandas DataFrame with one row per run and one column per "
                f"parameter; got {type(table).__name__} of shape {getattr(table, 'shape', '?')}."
            )
        if table.columns.has_duplicates:
            dups = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
            raise DesignError(f"the samples table repeats the columns {dups}; keep one of each.")
        self._arrays: list[Any] = []
        for name in table.columns:
            _check_name(name, "samples column")
            col = table[name]
            kind: str = col.dtype.kind
            bad = np.flatnonzero(col.isna().to_numpy())[:5].tolist()
            if not bad and kind in "biuf":
                dtype: Any = getattr(col.dtype, "numpy_dtype", col.dtype)
                arr = col.to_numpy(dtype=dtype, copy=True)
                bad = np.flatnonzero(~np.isfinite(arr))[:5].tolist() if kind == "f" else []
            elif not bad and kind in "OSUT":
                arr = col.to_numpy(dtype=object, copy=True)
                kind = "str" if all(isinstance(v, str) for v in arr) else "mixed"
            if bad:
                raise DesignError(
                    f"samples column {name!r} has missing or non-finite values at rows {bad}; "
                    "fill or drop those rows."
                )
            if kind not in ("b", "i", "u", "f", "str"):
                raise DesignError(
                    f"samples column {name!r} ({col.dtype}) must hold only integers, floats, "
                    "booleans or strings."
                )
            self._arrays.append(arr)
        self._names, self._n, self._sha256 = tuple(table.columns), len(table), ""

    def _columns(self, a: int, b: int) -> list[list[Any]]:
        return [arr[a:b].tolist() for arr in self._arrays]

    def _dtypes(self) -> dict[str, str]:
        pairs = zip(self._names, self._arrays, strict=True)
        return {p: "str" if a.dtype == object else str(a.dtype) for p, a in pairs}

    def table_sha256(self) -> str:
        """Content hash of the table (names, dtypes, values), independent of file format."""
        if not self._sha256:
            h = hashlib.sha256()
            for (name, dtype), arr in zip(self._dtypes().items(), self._arrays, strict=True):
                h.update(f"{len(name)}:{name}:{dtype}:".encode())
                if dtype == "str":
                    for v in arr:
                        data = v.encode("utf-8", "surrogatepass")
                        h.update(len(data).to_bytes(8, "little") + data)
                else:
                    h.update(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
            self._sha256 = h.hexdigest()
        return self._sha256

    def to_frame(self) -> pd.DataFrame:
        """The validated table, RangeIndex, text columns as pandas strings."""
        import pandas as pd

        pairs = zip(self._names, self._arrays, strict=True)
        columns = {
            p: pd.Series(a, dtype="string" if a.dtype == object else a.dtype) for p, a in pairs
        }
        frame: pd.DataFrame = pd.DataFrame(columns)
        return frame

    def write_table(self, path: str | Path) -> None:
        """Write the table to Parquet at ``path``, for :func:`design_from_header`."""
        self.to_frame().to_parquet(Path(path), index=False)

    def to_header(self) -> dict[str, Any]:
        return self._header(seed=None, dtypes=self._dtypes(), sha256=self.table_sha256())


class _RandomDesign(Design):
    """Monte Carlo and Latin hypercube: ``n`` runs, a distribution per parameter (or per
    group of parameters, Monte Carlo only), a seed."""

    seed: int
    _bounds_ok: ClassVar[bool]

    def __init__(self, n: int, dists: Mapping[Any, Any], seed: int | None) -> None:
        label = self.kind.replace("_", " ")
        self._n = _whole(n, f"n (the number of {label} runs)", 1)
        if not isinstance(dists, Mapping) or not dists:
            raise DesignError(
                f"a {label} design needs at least one parameter, e.g. "
                f"{{'Sat.SMA': ('normal', 7000.0, 10.0)}}; got {dists!r}."
            )
        self._dists: dict[str, _Dist] = {}
        self._blocks: list[tuple[str, _Dist] | _Group] = []
        for p, d in dists.items():
            if isinstance(p, tuple):
                self._blocks.append(self._group(p, d))
            else:
                name = _check_name(p, "parameter")
                dist = _parse_dist(d, f"parameter {p!r}", bounds_ok=self._bounds_ok)
                self._dists[name] = dist
                self._blocks.append((name, dist))
        names = [f for b in self._blocks for f in (b.fields if isinstance(b, _Group) else (b[0],))]
        if len(set(names)) < len(names):
            twice = next(f for f in names if names.count(f) > 1)
            raise DesignError(f"{twice!r} is drawn twice (alone or in groups); draw it once.")
        self._names = tuple(names)
        self._keys = [parameter_key(p) for p in self._dists]
        keys = [b.key if isinstance(b, _Group) else parameter_key(b[0]) for b in self._blocks]
        if len(set(keys)) < len(keys):  # a 32-bit sha256 prefix collision
            raise DesignError(f"two of {[*dists]} share a seed key; rename one of them.")
        self.seed = _check_seed(seed)

    def _group(self, fields: tuple[Any, ...], spec: Any) -> _Group:
        label = ", ".join(map(repr, fields))
        if self._bounds_ok:
            raise DesignError(
                f"group ({label}): a Latin hypercube stratifies each field on its own, so it "
                "cannot draw fields jointly; use monte_carlo for correlated groups and burn "
                "errors, or give each field its own bounds."
            )
        if not fields:
            raise DesignError("a group needs at least one field; got ().")
        checked = tuple(_check_name(f, "group field") for f in fields)
        return _parse_group(checked, spec, f"group ({label})")

    def to_header(self) -> dict[str, Any]:
        dists = {p: d.to_header() for p, d in self._dists.items()}
        groups = [b.to_header() for b in self._blocks if isinstance(b, _Group)]
        if not groups:
            return self._header(seed=self.seed, seed_scheme=SEED_SCHEME, distributions=dists)
        return self._header(
            seed=self.seed, seed_scheme=SEED_SCHEME_GROUPS, distributions=dists, groups=groups
        )


class MonteCarlo(_RandomDesign):
    """``n`` independent draws of each entry of ``perturb`` (the module's seed contract): a
    field path -> a distribution, or a tuple of field paths -> a joint distribution
    (``("mvnormal", mean, cov)``, ``("pointing", nominal, magnitude_sigma_rel,
    angle_sigma_deg)``; :mod:`gmat_sweep.dispersions`). The overrides list the fields in
    ``perturb``'s order, a group's in its own. ``seed=None`` draws a fresh seed, kept as
    ``.seed`` for the manifest."""

    kind = "monte_carlo"
    _bounds_ok = False

    def __init__(self, n: int, perturb: Mapping[Any, Any], seed: int | None = None) -> None:
        super().__init__(n, perturb, seed)

    def _columns(self, a: int, b: int) -> list[list[Any]]:
        columns: list[list[Any]] = []
        for block in self._blocks:
            if isinstance(block, _Group):
                columns += block.columns(self.seed, a, b)
            else:
                name, dist = block
                u = _draws(self.seed, a, b, parameter_key(name))
                columns.append(dist.transform(u).tolist())
        return columns


class LatinHypercube(_RandomDesign):
    """A 1-D Latin hypercube of ``n`` points per parameter, stratified per parameter and
    mapped to ``lo + (hi-lo)*u`` for ``(lo, hi)`` bounds or a distribution's inverse CDF.
    A parameter's ``n`` values are computed on first use and kept. Not extendable."""

    kind = "latin_hypercube"
    _bounds_ok = True

    def __init__(self, n: int, bounds: Mapping[str, Distribution], seed: int | None = None) -> None:
        super().__init__(n, bounds, seed)  # a tuple (group) key is refused
        self._cache: list[Any] = []

    def _columns(self, a: int, b: int) -> list[list[Any]]:
        if not self._cache:
            import numpy as np
            from scipy.stats import qmc

            for d, key in zip(self._dists.values(), self._keys, strict=True):
                rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(key,)))
                try:
                    sampler = qmc.LatinHypercube(d=1, rng=rng)
                except TypeError:  # scipy < 1.15 calls it seed
                    sampler = qmc.LatinHypercube(d=1, seed=rng)
                self._cache.append(d.transform(np.ascontiguousarray(sampler.random(self._n)[:, 0])))
        return [values[a:b].tolist() for values in self._cache]


def extended(design: Design, n_total: int) -> MonteCarlo:
    """The same Monte Carlo sweep with ``n_total`` runs, whose first ``len(design)`` runs
    equal ``design``'s exactly. Only Monte Carlo designs can be extended."""
    if not isinstance(design, MonteCarlo):
        raise DesignError(
            f"extend applies to Monte Carlo sweeps only, not to a {design.kind} design; "
            "start a new sweep for more runs."
        )
    if _whole(n_total, "n_total", 1) < len(design):
        raise DesignError(f"n_total={n_total} is below the {len(design)} runs already there.")
    bigger = design_from_header({**design.to_header(), "n": n_total})
    assert isinstance(bigger, MonteCarlo)
    return bigger


def design_from_header(header: Mapping[str, Any], *, table_path: Path | None = None) -> Design:
    """Rebuild the design that ``to_header()`` described (also after a JSON round trip,
    ``sort_keys`` included). A samples design reads its table from ``table_path`` (the
    Parquet file :meth:`Samples.write_table` wrote) and checks it against the header."""
    try:
        kind, names = header["kind"], [*header["parameters"]]
        if kind == "grid":
            return Grid({p: header["values"][p] for p in names})
        if kind == "samples":
            return _samples_from_header(header, names, table_path)
        if kind in ("sobol", "morris"):  # tables drawn by SALib: gmat_sweep.sensitivity_designs
            from gmat_sweep.sensitivity_designs import sensitivity_from_header as from_header

            return from_header(header, table_path)
        if kind in ("monte_carlo", "latin_hypercube"):
            if header.get("seed_scheme") not in (SEED_SCHEME, SEED_SCHEME_GROUPS):
                raise DesignError(
                    f"the header's seed scheme {header.get('seed_scheme')!r} is not "
                    f"{SEED_SCHEME!r}; use the gmat-sweep version that wrote the manifest."
                )
            cls = MonteCarlo if kind == "monte_carlo" else LatinHypercube
            dists = _perturb_from_header(header, names)
            return cls(header["n"], dists, seed=_whole(header["seed"], "the header's seed", 0))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DesignError(f"the design in the manifest header is malformed ({exc!r}).") from exc
    raise DesignError(
        f"unknown design kind {kind!r} in the manifest header; known kinds: grid, samples, "
        "monte_carlo, latin_hypercube, sobol, morris."
    )


def _perturb_from_header(header: Mapping[str, Any], names: list[str]) -> dict[Any, Any]:
    """The ``perturb`` mapping, in its order, that a random design's header records."""
    groups = {g["fields"][0]: g for g in header.get("groups", [])}
    in_groups = {f for g in groups.values() for f in g["fields"]}
    dists: dict[Any, Any] = {}
    for p in names:
        if p in groups:
            fields, spec = _group_spec_from_header(groups[p])
            dists[fields] = spec
        elif p not in in_groups:
            dists[p] = _dist_from_header(header["distributions"][p], repr(p))
    return dists


def _samples_from_header(header: Mapping[str, Any], names: list[str], path: Path | None) -> Samples:
    import pandas as pd

    if path is None:
        raise DesignError(
            "a samples design keeps its table in a Parquet file beside the manifest; "
            "pass table_path= to design_from_header."
        )
    try:
        table = pd.read_parquet(Path(path))
    except (OSError, ValueError) as exc:
        raise DesignError(f"cannot read the samples table {path}: {exc}") from exc
    if sorted(map(str, table.columns)) != sorted(names):
        raise DesignError(f"the samples table {path} has columns {[*table.columns]}, not {names}.")
    design = Samples(table[names])
    if len(design) != header["n"] or design.table_sha256() != header["sha256"]:
        raise DesignError(
            f"the samples table {path} differs from the one this manifest was written with; "
            "restore that table."
        )
    return design
