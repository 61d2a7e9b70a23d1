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
"""

from __future__ import annotations

import abc
import difflib
import hashlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from gmat_sweep.errors import DesignError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "DISTRIBUTIONS",
    "SEED_SCHEME",
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

Distribution: TypeAlias = "tuple[str, float, float] | Any"
"""``("normal", mu, sigma)``, ``("uniform", lo, hi)``, ``("lognormal", mu, sigma)`` (of the
underlying normal) or a frozen continuous scipy.stats distribution (``truncnorm(-2, 2)``)."""

DISTRIBUTIONS = ("normal", "uniform", "lognormal")
SEED_SCHEME = "seedseq-pcg64-sha256key-v1"  # recorded in headers; a change must bump it
CHUNK = 1024  # runs generated per vectorised step
Run: TypeAlias = "tuple[int, dict[str, Any], int | None]"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def parameter_key(name: str) -> int:
    """Stable 32-bit key of a parameter name (sha256; never Python's salted ``hash()``)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big")


# --- streams: one numpy SeedSequence per run and parameter ---------------------------


def _numpy_draw(seed: int, run_id: int, key: int | None) -> float | int:
    """numpy's own value: run ``run_id``'s uniform for ``key``, or its seed if key is None."""
    import numpy as np

    ss = np.random.SeedSequence(entropy=seed, spawn_key=(run_id,) if key is None else (run_id, key))
    if key is not None:
        return float(np.random.default_rng(ss).random())
    words = ss.generate_state(2, np.uint32)
    return int(words[0]) | int(words[1]) << 32


def _draws(seed: int, a: int, b: int, key: int | None) -> npt.NDArray[Any]:
    """Runs ``a..b-1``: uniforms of the parameter with ``key``, or run seeds (key None)."""
    import numpy as np

    values = [_numpy_draw(seed, i, key) for i in range(a, b)]
    return np.array(values, dtype=np.uint64 if key is None else np.float64)


# --- validation ----------------------------------------------------------------------


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DesignError(
            f"{what} {name!r} is not a GMAT field path: use 'Object.Field' such as 'Sat.SMA' "
            "or a Variable name such as 'TOF' (letters, digits, '_', joined by dots)."
        )
    return name


def _item(value: Any) -> Any:
    """A numpy scalar (or 0-d array) as its Python value; anything else unchanged."""
    return value.item() if hasattr(value, "dtype") and getattr(value, "shape", 0) == () else value


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


def _real(value: object, where: str) -> float:
    item = _item(value)
    if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
        raise DesignError(f"{where} must be a finite real number; got {value!r}.")
    return float(item)


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


# --- distributions -------------------------------------------------------------------


class _Dist:
    """One validated distribution: a named family with two parameters, or scipy's."""

    def __init__(self, family: str, a: float = 0.0, b: float = 0.0, frozen: Any = None) -> None:
        self.family, self.a, self.b, self.frozen = family, a, b, frozen

    def to_header(self) -> dict[str, Any]:
        f = self.frozen
        if f is not None:
            return {"family": "scipy", "name": f.dist.name, "args": [*f.args], "kwds": {**f.kwds}}
        names = ("lo", "hi") if self.family == "uniform" else ("mu", "sigma")
        return {"family": self.family, names[0]: self.a, names[1]: self.b}

    def transform(self, u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Inverse CDF, element-wise (a value never depends on the chunk it is in)."""
        import numpy as np
        from scipy.special import ndtri

        out: Any
        if self.family == "uniform":
            out = self.a + (self.b - self.a) * u
        elif self.family == "normal":
            out = self.a + self.b * ndtri(u)
        elif self.family == "lognormal":  # math.exp: no CPU-dependent SIMD code path
            out = [math.exp(z) for z in (self.a + self.b * ndtri(u)).tolist()]
        else:
            out = self.frozen.ppf(u)
        return np.asarray(out, dtype=np.float64)


def _scipy_dist(name: str, args: Iterable[Any], kwds: Mapping[str, Any], where: str) -> _Dist:
    import scipy.stats

    gen = getattr(scipy.stats, name, None)
    if not isinstance(gen, scipy.stats.rv_continuous):
        raise DesignError(
            f"{where}: scipy.stats has no continuous distribution {name!r}, so it cannot be "
            "recorded in the manifest; use one of scipy.stats' own distributions."
        )
    args = [_real(v, f"{where}: scipy.stats.{name} argument #{k}") for k, v in enumerate(args)]
    kwds = {str(k): _real(v, f"{where}: scipy.stats.{name} {k}=") for k, v in kwds.items()}
    try:
        frozen = gen(*args, **kwds)
        ok = math.isfinite(float(frozen.ppf(0.5)))
    except Exception as exc:
        raise DesignError(f"{where}: scipy.stats.{name}(*{args}, **{kwds}) failed: {exc}") from exc
    if not ok:
        raise DesignError(f"{where}: invalid parameters for scipy.stats.{name}: {args} {kwds}.")
    return _Dist("scipy", frozen=frozen)


def _parse_dist(spec: Any, where: str, *, bounds_ok: bool) -> _Dist:
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], str):
        name, params = spec[0], ("lo", "hi") if spec[0] == "uniform" else ("mu", "sigma")
        if name not in DISTRIBUTIONS:
            close = difflib.get_close_matches(name.lower(), DISTRIBUTIONS, n=1)
            raise DesignError(
                f"{where}: unknown distribution {name!r}."
                + (f" Did you mean {close[0]!r}?" if close else "")
                + f" Known distributions: {', '.join(DISTRIBUTIONS)}, or a frozen continuous"
                " scipy.stats distribution such as scipy.stats.norm(0, 1)."
            )
        if len(spec) != 3:
            raise DesignError(f"{where}: write ({name!r}, {', '.join(params)}); got {spec!r}.")
        a, b = (_real(v, f"{where}: {name} {p}") for v, p in zip(spec[1:], params, strict=True))
        if not (a < b if name == "uniform" else b > 0):
            need = "lo < hi" if name == "uniform" else "sigma > 0"
            raise DesignError(f"{where}: {name} needs {need}; got {spec!r}.")
        return _Dist(name, a, b)
    if bounds_ok and isinstance(spec, (tuple, list)) and len(spec) == 2:
        return _parse_dist(("uniform", *spec), f"{where} bounds", bounds_ok=False)
    if all(hasattr(spec, a) for a in ("ppf", "dist", "args", "kwds")):
        import scipy.stats

        name = spec.dist.name
        if not isinstance(spec.dist, scipy.stats.rv_continuous):
            raise DesignError(f"{where}: {name} is discrete; only continuous ones can be drawn.")
        dist = _scipy_dist(name, spec.args, spec.kwds, where)
        if type(dist.frozen.dist) is not type(spec.dist) or dist.frozen.ppf(0.3) != spec.ppf(0.3):
            raise DesignError(
                f"{where}: this {name} cannot be recorded in the manifest (scipy.stats.{name}"
                "(*args, **kwds) does not rebuild it); use a stock scipy.stats distribution."
            )
        return dist
    raise DesignError(
        f"{where}: {spec!r} is not a distribution; use "
        + ("(lo, hi) bounds, " if bounds_ok else "")
        + "('normal', mu, sigma), ('uniform', lo, hi), ('lognormal', mu, sigma) or a frozen"
        " scipy.stats distribution such as scipy.stats.norm(0, 1)."
    )


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
    """Monte Carlo and Latin hypercube: ``n`` runs, a distribution per parameter, a seed."""

    seed: int
    _bounds_ok: ClassVar[bool]

    def __init__(self, n: int, dists: Mapping[str, Distribution], seed: int | None) -> None:
        label = self.kind.replace("_", " ")
        self._n = _whole(n, f"n (the number of {label} runs)", 1)
        if not isinstance(dists, Mapping) or not dists:
            raise DesignError(
                f"a {label} design needs at least one parameter, e.g. "
                f"{{'Sat.SMA': ('normal', 7000.0, 10.0)}}; got {dists!r}."
            )
        ok = self._bounds_ok
        self._dists = {
            _check_name(p, "parameter"): _parse_dist(d, f"parameter {p!r}", bounds_ok=ok)
            for p, d in dists.items()
        }
        self._names = tuple(self._dists)
        self._keys = [parameter_key(p) for p in self._names]
        if len(set(self._keys)) < len(self._keys):  # a 32-bit sha256 prefix collision
            raise DesignError(f"two of {self._names} share a seed key; rename one of them.")
        self.seed = _check_seed(seed)

    def to_header(self) -> dict[str, Any]:
        dists = {p: d.to_header() for p, d in self._dists.items()}
        return self._header(seed=self.seed, seed_scheme=SEED_SCHEME, distributions=dists)


class MonteCarlo(_RandomDesign):
    """``n`` independent draws of each parameter in ``perturb`` (the module's seed
    contract). ``seed=None`` draws a fresh seed, kept as ``.seed`` for the manifest."""

    kind = "monte_carlo"
    _bounds_ok = False

    def __init__(
        self, n: int, perturb: Mapping[str, Distribution], seed: int | None = None
    ) -> None:
        super().__init__(n, perturb, seed)

    def _columns(self, a: int, b: int) -> list[list[Any]]:
        return [
            d.transform(_draws(self.seed, a, b, key)).tolist()
            for d, key in zip(self._dists.values(), self._keys, strict=True)
        ]


class LatinHypercube(_RandomDesign):
    """A 1-D Latin hypercube of ``n`` points per parameter, stratified per parameter and
    mapped to ``lo + (hi-lo)*u`` for ``(lo, hi)`` bounds or a distribution's inverse CDF.
    A parameter's ``n`` values are computed on first use and kept. Not extendable."""

    kind = "latin_hypercube"
    _bounds_ok = True

    def __init__(self, n: int, bounds: Mapping[str, Distribution], seed: int | None = None) -> None:
        super().__init__(n, bounds, seed)
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
        if kind in ("monte_carlo", "latin_hypercube"):
            if header.get("seed_scheme") != SEED_SCHEME:
                raise DesignError(
                    f"the header's seed scheme {header.get('seed_scheme')!r} is not "
                    f"{SEED_SCHEME!r}; use the gmat-sweep version that wrote the manifest."
                )
            dists: dict[str, Any] = {}
            for p in names:
                d = header["distributions"][p]
                if d["family"] == "scipy":
                    dists[p] = _scipy_dist(d["name"], d["args"], d["kwds"], repr(p)).frozen
                else:
                    a, b = ("lo", "hi") if d["family"] == "uniform" else ("mu", "sigma")
                    dists[p] = (d["family"], d[a], d[b])
            cls = MonteCarlo if kind == "monte_carlo" else LatinHypercube
            return cls(header["n"], dists, seed=_whole(header["seed"], "the header's seed", 0))
    except (KeyError, TypeError, AttributeError) as exc:
        raise DesignError(f"the design in the manifest header is malformed ({exc!r}).") from exc
    raise DesignError(
        f"unknown design kind {kind!r} in the manifest header; known kinds: grid, samples, "
        "monte_carlo, latin_hypercube."
    )


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
