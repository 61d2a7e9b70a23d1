"""Epochs as GMAT keeps them: an A.1 Modified Julian Date (days from JD 2430000.0).

Conversions follow GMAT's time system: TAI = UTC + leap seconds, A.1 = TAI +
0.0343817 s, TT = TAI + 32.184 s, TDB from TT by the usual two-term periodic
approximation. Gregorian text is ``DD Mon YYYY HH:MM:SS.mmm`` rounded to the
millisecond, English month names, independent of the locale.
"""

from __future__ import annotations

import datetime as dt
import math
import re

__all__ = ["EPOCH_FORMATS", "format_epoch", "parse_epoch"]

SECONDS_PER_DAY = 86400.0
_MJD_ZERO = dt.datetime(1941, 1, 5, 12, 0, 0)
_A1_MINUS_TAI = 0.0343817
_TT_MINUS_TAI = 32.184
_JD_OF_MJD_ZERO = 2430000.0
_JD_J2000 = 2451545.0
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_GREGORIAN_RE = re.compile(
    r"\s*(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{1,2}):(\d{2}):(\d{2}(?:\.\d*)?)\s*\Z"
)

# (UTC date the offset starts, TAI - UTC in seconds), from 1972 on.
_LEAP_SECONDS = (
    ((1972, 1, 1), 10),
    ((1972, 7, 1), 11),
    ((1973, 1, 1), 12),
    ((1974, 1, 1), 13),
    ((1975, 1, 1), 14),
    ((1976, 1, 1), 15),
    ((1977, 1, 1), 16),
    ((1978, 1, 1), 17),
    ((1979, 1, 1), 18),
    ((1980, 1, 1), 19),
    ((1981, 7, 1), 20),
    ((1982, 7, 1), 21),
    ((1983, 7, 1), 22),
    ((1985, 7, 1), 23),
    ((1988, 1, 1), 24),
    ((1990, 1, 1), 25),
    ((1991, 1, 1), 26),
    ((1992, 7, 1), 27),
    ((1993, 7, 1), 28),
    ((1994, 7, 1), 29),
    ((1996, 1, 1), 30),
    ((1997, 7, 1), 31),
    ((1999, 1, 1), 32),
    ((2006, 1, 1), 33),
    ((2009, 1, 1), 34),
    ((2012, 7, 1), 35),
    ((2015, 7, 1), 36),
    ((2017, 1, 1), 37),
)
_LEAP_TABLE = tuple(
    ((dt.datetime(*day) - _MJD_ZERO).days + 0.0, float(offset)) for day, offset in _LEAP_SECONDS
)

SCALES = ("A1", "TAI", "UTC", "TT", "TDB")
EPOCH_FORMATS = tuple(f"{s}{f}" for s in SCALES for f in ("ModJulian", "Gregorian"))


def _leap_for_utc(utc_mjd: float) -> float:
    offset = _LEAP_TABLE[0][1]
    for start, seconds in _LEAP_TABLE:
        if utc_mjd >= start:
            offset = seconds
    return offset


def _tdb_minus_tt(tt_mjd: float) -> float:
    centuries = (tt_mjd + _JD_OF_MJD_ZERO - _JD_J2000) / 36525.0
    anomaly = math.radians(357.5277233 + 35999.05034 * centuries)
    return 0.001658 * math.sin(anomaly) + 0.00001385 * math.sin(2.0 * anomaly)


def to_a1(mjd: float, scale: str) -> float:
    """Convert an MJD in ``scale`` to A.1 MJD."""
    if scale == "A1":
        return mjd
    if scale == "TAI":
        return mjd + _A1_MINUS_TAI / SECONDS_PER_DAY
    if scale == "UTC":
        tai = mjd + _leap_for_utc(mjd) / SECONDS_PER_DAY
        return tai + _A1_MINUS_TAI / SECONDS_PER_DAY
    if scale == "TT":
        return mjd + (_A1_MINUS_TAI - _TT_MINUS_TAI) / SECONDS_PER_DAY
    if scale == "TDB":
        tt = mjd - _tdb_minus_tt(mjd) / SECONDS_PER_DAY
        return to_a1(tt, "TT")
    raise ValueError(f"unknown time system {scale}")


def from_a1(a1: float, scale: str) -> float:
    """Convert an A.1 MJD to an MJD in ``scale``."""
    if scale == "A1":
        return a1
    tai = a1 - _A1_MINUS_TAI / SECONDS_PER_DAY
    if scale == "TAI":
        return tai
    if scale == "UTC":
        guess = tai - _leap_for_utc(tai) / SECONDS_PER_DAY
        return tai - _leap_for_utc(guess) / SECONDS_PER_DAY
    tt = tai + _TT_MINUS_TAI / SECONDS_PER_DAY
    if scale == "TT":
        return tt
    if scale == "TDB":
        return tt + _tdb_minus_tt(tt) / SECONDS_PER_DAY
    raise ValueError(f"unknown time system {scale}")


def gregorian_to_mjd(text: str) -> float:
    """``'15 Mar 2026 06:30:00.000'`` to an MJD in the same time scale.

    Raises:
        ValueError: not a GMAT Gregorian date.
    """
    match = _GREGORIAN_RE.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a Gregorian date (DD Mon YYYY HH:MM:SS.mmm)")
    day, month_name, year, hour, minute, seconds = match.groups()
    if month_name.title() not in _MONTHS:
        raise ValueError(f"unknown month '{month_name}' in '{text}'")
    month = _MONTHS.index(month_name.title()) + 1
    whole = dt.datetime(int(year), month, int(day), int(hour), int(minute))
    delta = whole - _MJD_ZERO
    return delta.days + (delta.seconds + float(seconds)) / SECONDS_PER_DAY


def mjd_to_gregorian(mjd: float) -> str:
    """An MJD to ``DD Mon YYYY HH:MM:SS.mmm``, rounded to the millisecond."""
    millis = round(mjd * SECONDS_PER_DAY * 1000.0)
    moment = _MJD_ZERO + dt.timedelta(milliseconds=millis)
    month = _MONTHS[moment.month - 1]
    return (
        f"{moment.day:02d} {month} {moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}"
    )


def _split_format(date_format: str) -> tuple[str, str]:
    for scale in SCALES:
        if date_format.startswith(scale):
            kind = date_format[len(scale) :]
            if kind in ("ModJulian", "Gregorian"):
                return scale, kind
    raise ValueError(f"unknown DateFormat '{date_format}'")


def parse_epoch(text: str, date_format: str) -> float:
    """Parse an epoch written in ``date_format`` (e.g. UTCGregorian) to A.1 MJD.

    Raises:
        ValueError: the text does not match the format.
    """
    scale, kind = _split_format(date_format)
    if kind == "Gregorian":
        return to_a1(gregorian_to_mjd(text), scale)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a {date_format} epoch (a number)") from None
    return to_a1(value, scale)


def format_epoch(a1: float, date_format: str) -> str:
    """Render an A.1 MJD in ``date_format``."""
    scale, kind = _split_format(date_format)
    value = from_a1(a1, scale)
    if kind == "Gregorian":
        return mjd_to_gregorian(value)
    return "%.16g" % value


def epoch_number(a1: float, date_format: str) -> float:
    """The numeric value of a ModJulian epoch parameter (A1ModJulian, ...)."""
    scale, _ = _split_format(date_format)
    return from_a1(a1, scale)


def julian_centuries_tt(a1: float) -> float:
    """Julian centuries of TT since J2000, for precession and nutation."""
    tt = from_a1(a1, "TT")
    return (tt + _JD_OF_MJD_ZERO - _JD_J2000) / 36525.0
