"""One field's distribution, and the random streams every draw comes from.

A field's distribution is ``("normal", mu, sigma)``, ``("uniform", lo, hi)``,
``("lognormal", mu, sigma)`` or a frozen continuous ``scipy.stats`` distribution; each is
validated into a :class:`_Dist`, which maps uniforms to values by its inverse CDF and
records itself in the manifest header. Fields drawn jointly (correlated groups, burn
errors) are in :mod:`gmat_sweep.dispersions`; the designs that use both are in
:mod:`gmat_sweep.designs`, whose docstring states the seed contract.

Streams: :func:`parameter_key` keys a field's (or a group's) stream by its name, and run
``i`` of the stream with key ``k`` is ``numpy.random.default_rng(SeedSequence(entropy=seed,
spawn_key=(i, k)))``, so a value never depends on the chunk of runs it was drawn in. Every
error is a :class:`~gmat_sweep.errors.DesignError`. numpy and scipy are imported only when
a draw is made.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from gmat_sweep.errors import DesignError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["DISTRIBUTIONS", "Distribution", "parameter_key"]

Distribution: TypeAlias = "tuple[str, float, float] | Any"
"""``("normal", mu, sigma)``, ``("uniform", lo, hi)``, ``("lognormal", mu, sigma)`` (of the
underlying normal) or a frozen continuous scipy.stats distribution (``truncnorm(-2, 2)``)."""

DISTRIBUTIONS = ("normal", "uniform", "lognormal")


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
    """Runs ``a..b-1``: uniforms of the parameter with ``key``, or run seeds (key None);
    each equal to :func:`_numpy_draw`'s, computed for the whole range at once."""
    from gmat_sweep.streams import run_seeds, run_uniforms

    if key is None:
        return run_seeds(seed, a, b)
    return run_uniforms(seed, a, b, key)[:, 0]


def _uniform_rows(seed: int, a: int, b: int, key: int, k: int) -> npt.NDArray[np.float64]:
    """Runs ``a..b-1`` of the stream ``key``: the first ``k`` ``random()`` of each, one row
    per run (row ``j`` is run ``a + j``; its first value is :func:`_draws`' value)."""
    from gmat_sweep.streams import run_uniforms

    return run_uniforms(seed, a, b, key, k)


# --- validation helpers --------------------------------------------------------------


def _item(value: Any) -> Any:
    """A numpy scalar (or 0-d array) as its Python value; anything else unchanged."""
    return value.item() if hasattr(value, "dtype") and getattr(value, "shape", 0) == () else value


def _real(value: object, where: str) -> float:
    item = _item(value)
    if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
        raise DesignError(f"{where} must be a finite real number; got {value!r}.")
    return float(item)


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


def _dist_from_header(d: Mapping[str, Any], where: str) -> Any:
    """The ``perturb`` value that :meth:`_Dist.to_header` recorded as ``d``."""
    if d["family"] == "scipy":
        return _scipy_dist(d["name"], d["args"], d["kwds"], where).frozen
    a, b = ("lo", "hi") if d["family"] == "uniform" else ("mu", "sigma")
    return (d["family"], d[a], d[b])


def _parse_dist(spec: Any, where: str, *, bounds_ok: bool) -> _Dist:
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], str):
        name, params = spec[0], ("lo", "hi") if spec[0] == "uniform" else ("mu", "sigma")
        if name not in DISTRIBUTIONS:
            from gmat_sweep.dispersions import GROUP_FAMILIES

            if name in GROUP_FAMILIES and bounds_ok:
                raise DesignError(
                    f"{where}: {name!r} draws several fields together, which a Latin "
                    "hypercube cannot do (it stratifies each field on its own); use monte_carlo."
                )
            if name in GROUP_FAMILIES:
                raise DesignError(
                    f"{where}: {name!r} draws several fields together; give it a tuple of "
                    f"field names as the key, e.g. {{('Sat.X', 'Sat.Y'): ({name!r}, ...)}}."
                )
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
