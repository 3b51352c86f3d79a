"""Leap-second awareness for planning: leap seconds inside a window, and the table's expiry.

The table is astropy's (shipped in ``astropy-iers-data``, loaded into erfa); nothing here keeps
its own list. A leap second is inserted at the end of the UTC day before the table's date, so
the window question is whether that 23:59:60 second lies inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np
from astropy.time import Time
from astropy.utils import iers

from fermi_sciencetools_shim.time import time_to_met


@dataclass(frozen=True)
class LeapSecond:
    """One leap second: the UTC date it takes effect and the MET of the inserted second."""

    effective_utc: str
    met_start: float
    tai_utc_after: int


@dataclass(frozen=True)
class LeapTableStatus:
    """State of the leap-second table in use."""

    source: str
    expires: date
    days_left: int
    last_leap: str


def leap_second_table() -> iers.LeapSeconds:
    """Return astropy's bundled leap-second table (astropy-iers-data), without any download."""
    return iers.LeapSeconds.open(iers.IERS_LEAP_SECOND_FILE)


def leap_seconds_in_window(met_start: float, met_stop: float) -> list[LeapSecond]:
    """Return the leap seconds whose inserted second starts in ``[met_start, met_stop)``."""
    table = leap_second_table()
    out = []
    previous = None
    for row in table:
        tai_utc = int(row["tai_utc"])
        if previous is not None and tai_utc != previous:
            effective = Time(float(row["mjd"]), format="mjd", scale="utc")
            # the inserted second is the last second before the effective date
            met = float(time_to_met(effective)) - (tai_utc - previous)
            if met_start <= met < met_stop:
                out.append(LeapSecond(effective.isot[:10], met, tai_utc))
        previous = tai_utc
    return out


def table_status(today: date | None = None) -> LeapTableStatus:
    """Return the expiry of the leap-second table and how many days are left from ``today``."""
    table = leap_second_table()
    expires = table.expires.to_datetime().date()
    today = today or datetime.now(timezone.utc).date()
    last = table[int(np.flatnonzero(np.diff(np.asarray(table["tai_utc"])) != 0)[-1]) + 1]
    last_leap = f"{int(last['year']):04d}-{int(last['month']):02d}-{int(last['day']):02d}"
    return LeapTableStatus(str(iers.IERS_LEAP_SECOND_FILE), expires, (expires - today).days, last_leap)
