"""Geodetic altitude and latitude over GMAT's Earth ellipsoid.

Only the direction of the Earth's true pole matters for these two quantities, so
the EarthMJ2000Eq position is projected on the true-of-date pole: IAU 1976
precession and the ten largest IAU 1980 nutation terms (residual below 0.1
arcsecond). Polar motion (a few tenths of an arcsecond) is neglected.
"""

from __future__ import annotations

import math

from ._time import julian_centuries_tt

__all__ = ["EARTH_EQ_RADIUS", "EARTH_FLATTENING", "geodetic"]

EARTH_EQ_RADIUS = 6378.1363
EARTH_FLATTENING = 0.00335270
_ARCSEC = math.pi / (180.0 * 3600.0)

Matrix = list[list[float]]

# Nutation terms: multipliers of (D, M, M', F, Omega); dpsi = (a + b T), deps = (c + d T),
# in units of 0.0001 arcsecond.
_NUTATION = (
    (0, 0, 0, 0, 1, -171996.0, -174.2, 92025.0, 8.9),
    (-2, 0, 0, 2, 2, -13187.0, -1.6, 5736.0, -3.1),
    (0, 0, 0, 2, 2, -2274.0, -0.2, 977.0, -0.5),
    (0, 0, 0, 0, 2, 2062.0, 0.2, -895.0, 0.5),
    (0, 1, 0, 0, 0, 1426.0, -3.4, 54.0, -0.1),
    (0, 0, 1, 0, 0, 712.0, 0.1, -7.0, 0.0),
    (-2, 1, 0, 2, 2, -517.0, 1.2, 224.0, -0.6),
    (0, 0, 0, 2, 1, -386.0, -0.4, 200.0, 0.0),
    (0, 0, 1, 2, 2, -301.0, 0.0, 129.0, -0.1),
    (-2, -1, 0, 2, 2, 217.0, -0.5, -95.0, 0.3),
)


def _rotation(axis: int, angle: float) -> Matrix:
    c, s = math.cos(angle), math.sin(angle)
    if axis == 1:
        return [[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]]
    if axis == 2:
        return [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]]
    return [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]


def _product(a: Matrix, b: Matrix) -> Matrix:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def true_pole(a1_mjd: float) -> list[float]:
    """Unit vector of the true-of-date pole, in EarthMJ2000Eq axes."""
    t = julian_centuries_tt(a1_mjd)
    zeta = (2306.2181 * t + 0.30188 * t * t + 0.017998 * t**3) * _ARCSEC
    z = (2306.2181 * t + 1.09468 * t * t + 0.018203 * t**3) * _ARCSEC
    theta = (2004.3109 * t - 0.42665 * t * t - 0.041833 * t**3) * _ARCSEC
    precession = _product(_rotation(3, -z), _product(_rotation(2, theta), _rotation(3, -zeta)))
    eps = (84381.448 - 46.8150 * t - 0.00059 * t * t + 0.001813 * t**3) * _ARCSEC
    args = (
        math.radians(297.85036 + 445267.111480 * t),
        math.radians(357.52772 + 35999.050340 * t),
        math.radians(134.96298 + 477198.867398 * t),
        math.radians(93.27191 + 483202.017538 * t),
        math.radians(125.04452 - 1934.136261 * t),
    )
    dpsi = deps = 0.0
    for *mult, a, b, c, d in _NUTATION:
        angle = sum(m * x for m, x in zip(mult, args))
        dpsi += (a + b * t) * math.sin(angle)
        deps += (c + d * t) * math.cos(angle)
    dpsi *= 1.0e-4 * _ARCSEC
    deps *= 1.0e-4 * _ARCSEC
    nutation = _product(
        _rotation(1, -(eps + deps)), _product(_rotation(3, -dpsi), _rotation(1, eps))
    )
    return _product(nutation, precession)[2]


def geodetic(position: list[float], a1_mjd: float) -> tuple[float, float]:
    """``(altitude km, latitude deg)`` of an EarthMJ2000Eq position at an A.1 epoch."""
    pole = true_pole(a1_mjd)
    z = sum(pole[k] * position[k] for k in range(3))
    r2 = sum(c * c for c in position)
    rxy = math.sqrt(max(r2 - z * z, 0.0))
    e2 = EARTH_FLATTENING * (2.0 - EARTH_FLATTENING)
    lat = math.atan2(z, rxy)
    for _ in range(50):
        s = math.sin(lat)
        c_radius = EARTH_EQ_RADIUS / math.sqrt(1.0 - e2 * s * s)
        updated = math.atan2(z + c_radius * e2 * s, rxy)
        if abs(updated - lat) < 1.0e-15:
            lat = updated
            break
        lat = updated
    s = math.sin(lat)
    c_radius = EARTH_EQ_RADIUS / math.sqrt(1.0 - e2 * s * s)
    if abs(math.cos(lat)) > 1.0e-3:
        altitude = rxy / math.cos(lat) - c_radius
    else:
        altitude = z / s - c_radius * (1.0 - e2)
    return altitude, math.degrees(lat)
