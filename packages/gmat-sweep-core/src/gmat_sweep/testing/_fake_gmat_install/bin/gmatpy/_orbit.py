"""Two-body orbit mechanics about the Earth, in plain Python floats.

States are Cartesian ``[x, y, z, vx, vy, vz]`` (km, km/s) in EarthMJ2000Eq;
angles in the Keplerian interface are degrees, as GMAT shows them. Propagation
is analytic (Kepler's equation in the change of eccentric or hyperbolic
anomaly, Lagrange f and g), so a result depends only on its inputs: the same
state and time step give bit-identical output in every process.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "EARTH_MU",
    "OrbitError",
    "cart_to_kep",
    "kep_to_cart",
    "propagate",
    "vnb_delta_v",
]

EARTH_MU = 398600.4415
KEP_TOL = 1.0e-11
_TWO_PI = 2.0 * math.pi

State = list[float]
_Func = Callable[[float], float]


class OrbitError(ValueError):
    """A state or element set two-body mechanics cannot represent."""


def _dot(a: State, b: State) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: State, b: State) -> State:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _norm(a: State) -> float:
    return math.sqrt(_dot(a, a))


def _wrap(angle: float) -> float:
    wrapped = math.fmod(angle, _TWO_PI)
    if wrapped < 0.0:
        wrapped += _TWO_PI
    return 0.0 if wrapped >= _TWO_PI else wrapped


def check_elements(sma: float, ecc: float) -> None:
    """Reject element sets GMAT rejects: ECC < 0, parabolic, or SMA of the wrong sign.

    Raises:
        OrbitError: with GMAT-like wording.
    """
    if ecc < 0.0:
        raise OrbitError(f"ECC = {ecc!r} is negative; eccentricity must be >= 0")
    if abs(ecc - 1.0) < 1.0e-10:
        raise OrbitError("parabolic orbits (ECC = 1) are not supported")
    if sma == 0.0:
        raise OrbitError("SMA = 0 is not a valid semimajor axis")
    if ecc < 1.0 and sma < 0.0:
        raise OrbitError(f"SMA = {sma!r} must be positive for an elliptic orbit (ECC < 1)")
    if ecc > 1.0 and sma > 0.0:
        raise OrbitError(f"SMA = {sma!r} must be negative for a hyperbolic orbit (ECC > 1)")


def kep_to_cart(elements: State, mu: float = EARTH_MU) -> State:
    """``[SMA, ECC, INC, RAAN, AOP, TA]`` (km, -, deg) to a Cartesian state.

    Raises:
        OrbitError: invalid elements, or a true anomaly beyond a hyperbola's asymptote.
    """
    sma, ecc, inc, raan, aop, ta = elements
    check_elements(sma, ecc)
    i, node, argp, nu = (math.radians(x) for x in (inc, raan, aop, ta))
    p = sma * (1.0 - ecc * ecc)
    denominator = 1.0 + ecc * math.cos(nu)
    if denominator <= 1.0e-12:
        raise OrbitError(f"TA = {ta!r} deg is not reachable on this hyperbola")
    r = p / denominator
    x_orb, y_orb = r * math.cos(nu), r * math.sin(nu)
    speed = math.sqrt(mu / p)
    vx_orb, vy_orb = -speed * math.sin(nu), speed * (ecc + math.cos(nu))
    c_node, s_node = math.cos(node), math.sin(node)
    c_argp, s_argp = math.cos(argp), math.sin(argp)
    c_inc, s_inc = math.cos(i), math.sin(i)
    p_vec = [
        c_node * c_argp - s_node * s_argp * c_inc,
        s_node * c_argp + c_node * s_argp * c_inc,
        s_argp * s_inc,
    ]
    q_vec = [
        -c_node * s_argp - s_node * c_argp * c_inc,
        -s_node * s_argp + c_node * c_argp * c_inc,
        c_argp * s_inc,
    ]
    position = [p_vec[k] * x_orb + q_vec[k] * y_orb for k in range(3)]
    velocity = [p_vec[k] * vx_orb + q_vec[k] * vy_orb for k in range(3)]
    return position + velocity


def cart_to_kep(state: State, mu: float = EARTH_MU) -> State:
    """A Cartesian state to ``[SMA, ECC, INC, RAAN, AOP, TA]`` (km, -, deg).

    Circular orbits (ECC < 1e-11) report AOP = 0 and TA from the node (or from
    the x axis when also equatorial); equatorial orbits report RAAN = 0.

    Raises:
        OrbitError: rectilinear or parabolic motion.
    """
    r, v = state[:3], state[3:]
    r_mag = _norm(r)
    h = _cross(r, v)
    h_mag = _norm(h)
    if r_mag == 0.0 or h_mag <= 1.0e-10 * r_mag * max(_norm(v), 1.0e-300):
        raise OrbitError("rectilinear or degenerate state has no Keplerian elements")
    v2 = _dot(v, v)
    rv = _dot(r, v)
    energy = 0.5 * v2 - mu / r_mag
    e_vec = [((v2 - mu / r_mag) * r[k] - rv * v[k]) / mu for k in range(3)]
    ecc = _norm(e_vec)
    if abs(energy) < 1.0e-12 or abs(ecc - 1.0) < 1.0e-10:
        raise OrbitError("parabolic state has no semimajor axis")
    sma = -mu / (2.0 * energy)
    inc = math.atan2(math.hypot(h[0], h[1]), h[2])
    node = [-h[1], h[0], 0.0]
    n_mag = _norm(node)
    equatorial = n_mag <= KEP_TOL * h_mag
    circular = ecc < KEP_TOL
    raan = 0.0 if equatorial else _wrap(math.atan2(node[1], node[0]))
    # Reference direction for AOP (and for TA when circular): node line, or x axis.
    ref = [1.0, 0.0, 0.0] if equatorial else [c / n_mag for c in node]
    h_unit = [c / h_mag for c in h]
    if circular:
        aop = 0.0
        ta = _wrap(math.atan2(_dot(h_unit, _cross(ref, r)), _dot(ref, r)))
    else:
        aop = _wrap(math.atan2(_dot(h_unit, _cross(ref, e_vec)), _dot(ref, e_vec)))
        ta = _wrap(math.atan2(_dot(h_unit, _cross(e_vec, r)), _dot(e_vec, r)))
    return [sma, ecc, math.degrees(inc), math.degrees(raan), math.degrees(aop), math.degrees(ta)]


def true_to_mean(ta_deg: float, ecc: float) -> tuple[float, float]:
    """``(eccentric or hyperbolic anomaly, mean anomaly)`` in degrees for a true anomaly."""
    nu = math.radians(ta_deg)
    if ecc < 1.0:
        big_e = math.atan2(math.sqrt(1.0 - ecc * ecc) * math.sin(nu), ecc + math.cos(nu))
        mean = big_e - ecc * math.sin(big_e)
        return math.degrees(_wrap(big_e)), math.degrees(_wrap(mean))
    big_h = 2.0 * math.atanh(math.sqrt((ecc - 1.0) / (ecc + 1.0)) * math.tan(nu / 2.0))
    return math.degrees(big_h), math.degrees(ecc * math.sinh(big_h) - big_h)


def eccentric_to_true(ea_deg: float, ecc: float) -> float:
    """True anomaly (deg) from the eccentric (ECC < 1) or hyperbolic anomaly (deg)."""
    x = math.radians(ea_deg)
    if ecc < 1.0:
        nu = math.atan2(math.sqrt(1.0 - ecc * ecc) * math.sin(x), math.cos(x) - ecc)
        return math.degrees(_wrap(nu))
    nu = 2.0 * math.atan(math.sqrt((ecc + 1.0) / (ecc - 1.0)) * math.tanh(x / 2.0))
    return math.degrees(nu)


def mean_to_true(ma_deg: float, ecc: float) -> float:
    """True anomaly (deg) from the mean anomaly (deg), solving Kepler's equation."""
    mean = math.radians(ma_deg)
    if ecc < 1.0:
        reduced = math.remainder(mean, _TWO_PI)
        x = _solve_monotonic(
            lambda e: e - ecc * math.sin(e) - reduced,
            lambda e: 1.0 - ecc * math.cos(e),
            reduced - 2.0,
            reduced + 2.0,
        )
        return eccentric_to_true(math.degrees(x), ecc)
    x = _solve_monotonic(
        lambda h: ecc * math.sinh(h) - h - mean,
        lambda h: ecc * math.cosh(h) - 1.0,
        *_hyperbolic_bracket(lambda h: ecc * math.sinh(h) - h - mean),
    )
    return eccentric_to_true(math.degrees(x), ecc)


def _hyperbolic_bracket(func: _Func) -> tuple[float, float]:
    low, high = -1.0, 1.0
    for _ in range(200):
        if func(low) <= 0.0 <= func(high):
            return low, high
        low, high = low * 2.0, high * 2.0
    raise OrbitError("Kepler's equation has no solution in range")


def _solve_monotonic(func: _Func, deriv: _Func, low: float, high: float) -> float:
    """Root of an increasing function on ``[low, high]``: Newton, safeguarded by bisection."""
    x = 0.5 * (low + high)
    for _ in range(200):
        value = func(x)
        if value == 0.0:
            return x
        if value > 0.0:
            high = x
        else:
            low = x
        slope = deriv(x)
        candidate = x - value / slope if slope > 0.0 else 0.5 * (low + high)
        if not low < candidate < high:
            candidate = 0.5 * (low + high)
        if abs(candidate - x) <= 1.0e-15 * max(1.0, abs(x)):
            return candidate
        x = candidate
    return x


def propagate(state: State, dt: float, mu: float = EARTH_MU) -> State:
    """The two-body state ``dt`` seconds after ``state`` (negative ``dt`` goes back).

    Raises:
        OrbitError: parabolic or degenerate motion.
    """
    if dt == 0.0:
        return list(state)
    r0, v0 = state[:3], state[3:]
    r0_mag = _norm(r0)
    alpha = 2.0 / r0_mag - _dot(v0, v0) / mu
    sigma0 = _dot(r0, v0) / math.sqrt(mu)
    if abs(alpha) * r0_mag < 1.0e-12:
        raise OrbitError("parabolic orbits are not supported by this propagator")
    if alpha > 0.0:
        f, g, fdot, gdot = _elliptic_fg(r0, r0_mag, v0, sigma0, 1.0 / alpha, dt, mu)
    else:
        f, g, fdot, gdot = _hyperbolic_fg(r0, r0_mag, v0, sigma0, 1.0 / alpha, dt, mu)
    position = [f * r0[k] + g * v0[k] for k in range(3)]
    velocity = [fdot * r0[k] + gdot * v0[k] for k in range(3)]
    return position + velocity


def _elliptic_fg(
    r0: State, r0_mag: float, v0: State, sigma0: float, sma: float, dt: float, mu: float
) -> tuple[float, float, float, float]:
    mean_motion = math.sqrt(mu / (sma * sma * sma))
    reduced = math.remainder(mean_motion * dt, _TWO_PI)
    e_cos = 1.0 - r0_mag / sma
    e_sin = sigma0 / math.sqrt(sma)

    def kepler(x: float) -> float:
        return x - e_cos * math.sin(x) + e_sin * (1.0 - math.cos(x)) - reduced

    def slope(x: float) -> float:
        return 1.0 - e_cos * math.cos(x) + e_sin * math.sin(x)

    de = _solve_monotonic(kepler, slope, reduced - 2.0, reduced + 2.0)
    sin_de, one_minus_cos = math.sin(de), 1.0 - math.cos(de)
    r_mag = sma + (r0_mag - sma) * math.cos(de) + sigma0 * math.sqrt(sma) * sin_de
    f = 1.0 - sma / r0_mag * one_minus_cos
    g = (reduced - (de - sin_de)) / mean_motion
    fdot = -math.sqrt(mu * sma) / (r_mag * r0_mag) * sin_de
    gdot = 1.0 - sma / r_mag * one_minus_cos
    return f, g, fdot, gdot


def _hyperbolic_fg(
    r0: State, r0_mag: float, v0: State, sigma0: float, sma: float, dt: float, mu: float
) -> tuple[float, float, float, float]:
    neg_a = -sma
    mean_motion = math.sqrt(mu / (neg_a * neg_a * neg_a))
    mean = mean_motion * dt
    c1 = sigma0 / math.sqrt(neg_a)
    c2 = 1.0 - r0_mag / sma

    def kepler(x: float) -> float:
        return c1 * (math.cosh(x) - 1.0) + c2 * math.sinh(x) - x - mean

    def slope(x: float) -> float:
        return c1 * math.sinh(x) + c2 * math.cosh(x) - 1.0

    dh = _solve_monotonic(kepler, slope, *_hyperbolic_bracket(kepler))
    cosh_m1, sinh_dh = math.cosh(dh) - 1.0, math.sinh(dh)
    f = 1.0 - neg_a * cosh_m1 / r0_mag
    g = dt - (sinh_dh - dh) / mean_motion
    position = [f * r0[k] + g * v0[k] for k in range(3)]
    r_mag = _norm(position)
    fdot = -math.sqrt(mu * neg_a) * sinh_dh / (r_mag * r0_mag)
    gdot = 1.0 - neg_a * cosh_m1 / r_mag
    return f, g, fdot, gdot


def vnb_delta_v(state: State, components: tuple[float, float, float]) -> State:
    """Velocity change (km/s, inertial) for a burn given in VNB axes.

    V is along the velocity, N along the orbit normal (r x v), B = V x N.
    """
    r, v = state[:3], state[3:]
    v_hat = [c / _norm(v) for c in v]
    h = _cross(r, v)
    n_hat = [c / _norm(h) for c in h]
    b_hat = _cross(v_hat, n_hat)
    return [
        components[0] * v_hat[k] + components[1] * n_hat[k] + components[2] * b_hat[k]
        for k in range(3)
    ]


def orbit_quantities(state: State, mu: float = EARTH_MU) -> dict[str, float]:
    """Every scalar report parameter derived from one state (keyed by GMAT name)."""
    r, v = state[:3], state[3:]
    values = {
        "X": r[0],
        "Y": r[1],
        "Z": r[2],
        "VX": v[0],
        "VY": v[1],
        "VZ": v[2],
        "RMAG": _norm(r),
        "VMAG": _norm(v),
    }
    sma, ecc, inc, raan, aop, ta = cart_to_kep(state, mu)
    anomaly, mean = true_to_mean(ta, ecc)
    energy = 0.5 * _dot(v, v) - mu / values["RMAG"]
    values.update(
        {
            "SMA": sma,
            "ECC": ecc,
            "INC": inc,
            "RAAN": raan,
            "AOP": aop,
            "TA": ta,
            "EA": anomaly if ecc < 1.0 else math.nan,
            "HA": anomaly if ecc > 1.0 else math.nan,
            "MA": mean,
            "RadPer": sma * (1.0 - ecc),
            "RadApo": sma * (1.0 + ecc) if ecc < 1.0 else math.inf,
            "Energy": energy,
            "C3Energy": 2.0 * energy,
            "OrbitPeriod": _TWO_PI * math.sqrt(sma**3 / mu) if ecc < 1.0 else math.inf,
            "MeanMotion": math.sqrt(mu / abs(sma) ** 3),
            "HMAG": _norm(_cross(r, v)),
        }
    )
    return values
