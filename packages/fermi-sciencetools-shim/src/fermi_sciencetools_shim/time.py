"""Fermi Mission Elapsed Time (MET) and its conversions, through astropy.

MET counts SI seconds from 2001-01-01T00:00:00 UTC; FITS files state the epoch as
``MJDREFI = 51910``, ``MJDREFF = 7.428703703703703e-4`` in TT. astropy applies the
leap seconds (2005-12-31, 2008-12-31, 2012-06-30, 2015-06-30, 2016-12-31); nothing
here adds or removes them by hand.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.time import Time, TimeDelta

MJDREFI = 51910
MJDREFF = 7.428703703703703e-4
#: The MET epoch, 2001-01-01T00:00:00 UTC, as an astropy time in TT.
MET_EPOCH = Time(MJDREFI, MJDREFF, format="mjd", scale="tt")
#: UTC MJD of 2008-05-29T00:00, the start of mission week 0 (weeks start on Thursday).
MISSION_WEEK_EPOCH_MJD = 54615

ArrayLike = float | np.ndarray


def met_to_time(met: ArrayLike) -> Time:
    """Return the astropy :class:`~astropy.time.Time` (scale TT) of MET seconds."""
    return MET_EPOCH + TimeDelta(np.asarray(met, dtype=np.float64), format="sec")


def time_to_met(t: Time) -> ArrayLike:
    """Return MET seconds of an astropy time (any scale)."""
    met = (t.tt - MET_EPOCH).to_value("sec")
    return float(met) if np.ndim(met) == 0 else np.asarray(met)


def utc_to_met(utc: str | list[str] | np.ndarray) -> ArrayLike:
    """Return MET seconds of UTC ISO strings such as ``"2008-08-04T15:43:36"``."""
    return time_to_met(Time(utc, scale="utc"))


def met_to_utc_iso(met: ArrayLike, precision: int = 6) -> str | np.ndarray:
    """Return UTC ISO strings (``YYYY-MM-DDThh:mm:ss.ffffff``) of MET seconds."""
    t = met_to_time(met).utc
    t.precision = precision
    return t.isot


def met_to_mjd(met: ArrayLike, scale: str = "tt") -> ArrayLike:
    """Return the MJD of MET seconds in ``scale`` (``"tt"`` or ``"utc"``)."""
    mjd = getattr(met_to_time(met), scale).mjd
    return float(mjd) if np.ndim(mjd) == 0 else mjd


def date_obs(met: float) -> str:
    """Return the ``DATE-OBS``/``DATE-END`` string the ScienceTools write for ``met``.

    The format is ``YYYY-MM-DDThh:mm:ss.ssss`` in UTC with the fraction of the second
    truncated (not rounded) to four digits, as st_facilities ``writeDateKeywords`` does.

    Examples
    --------
    >>> date_obs(239557417.0)
    '2008-08-04T15:43:36.0000'
    """
    ymdhms = met_to_time(float(met)).utc.ymdhms
    seconds = float(ymdhms["second"])
    whole = math.floor(seconds + 1e-7)
    frac = math.floor((seconds - whole) * 1e4 + 1e-6) if seconds > whole else 0
    frac = min(max(frac, 0), 9999)
    return (
        f"{int(ymdhms['year']):04d}-{int(ymdhms['month']):02d}-{int(ymdhms['day']):02d}"
        f"T{int(ymdhms['hour']):02d}:{int(ymdhms['minute']):02d}:{whole:02d}.{frac:04d}"
    )


def mission_week(met: ArrayLike) -> int | np.ndarray:
    """Return the Fermi mission week of MET seconds.

    Week N covers [2008-05-29T00:00 UTC + 7 N days, + 7 days), counted on the UTC
    calendar (dividing MET by 604800 would drift by one second per leap second).
    """
    mjd_utc = np.asarray(met_to_mjd(met, scale="utc"))
    week = np.floor((mjd_utc - MISSION_WEEK_EPOCH_MJD) / 7.0).astype(np.int64)
    return int(week) if week.ndim == 0 else week


def mission_week_bounds(week: int) -> tuple[float, float]:
    """Return the MET ``(start, stop)`` of mission week ``week`` (stop exclusive)."""
    start = Time(MISSION_WEEK_EPOCH_MJD + 7 * int(week), format="mjd", scale="utc")
    stop = Time(MISSION_WEEK_EPOCH_MJD + 7 * (int(week) + 1), format="mjd", scale="utc")
    return float(time_to_met(start)), float(time_to_met(stop))
