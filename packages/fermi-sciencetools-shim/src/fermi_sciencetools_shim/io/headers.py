"""Keywords every tool rewrites: observation times, file date, ONTIME."""

from __future__ import annotations

import datetime as _dt

from astropy.io import fits

from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.time import date_obs


def update_time_keywords(header: fits.Header, tstart: float, tstop: float) -> None:
    """Rewrite ``TSTART``, ``TSTOP``, ``DATE-OBS``, ``DATE-END`` (and ``TELAPSE`` if present).

    Keywords missing from ``header`` are added (except ``TELAPSE``); existing ones keep
    their position and comment.
    """
    header["TSTART"] = float(tstart)
    header["TSTOP"] = float(tstop)
    header["DATE-OBS"] = date_obs(float(tstart))
    header["DATE-END"] = date_obs(float(tstop))
    if "TELAPSE" in header:
        header["TELAPSE"] = float(tstop) - float(tstart)


def file_date(now: _dt.datetime | None = None) -> str:
    """Return a ``DATE`` value (UTC, ``YYYY-MM-DDThh:mm:ss``) for ``now`` (default: the current time)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S")


def set_date(header: fits.Header, now: _dt.datetime | None = None) -> None:
    """Set ``DATE`` (file creation time, UTC) in ``header``."""
    header["DATE"] = file_date(now)


def set_ontime(header: fits.Header, gti: Gti) -> None:
    """Set ``ONTIME`` (sum of the GTI lengths, seconds) in ``header``."""
    header["ONTIME"] = (gti.ontime, "sum of GTI lengths")
