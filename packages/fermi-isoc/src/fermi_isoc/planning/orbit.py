"""The orbit of mission planning: a TLE (the built-in one or flight dynamics'), as a ground track.

TLE parsing and validation and the sgp4 propagation are mission facts defined once in
:mod:`fermi_core.mission.orbit` (re-exported here for the planning commands); this module
chooses the built-in element set of planning (the newest known) and gives the ground track of a
:class:`~fermi_core.mission.orbit.Tle`.
"""

from __future__ import annotations

import numpy as np

from fermi_core.mission.orbit import (
    FERMI_NORAD_ID,
    TLE_2026_06_26,
    GroundTrack,
    Orbit,
    Tle,
    TleError,
    parse_tle,
    read_tle,
    tle_from_lines,
)

__all__ = [
    "DEFAULT_TLE_LINES",
    "FERMI_NORAD_ID",
    "GroundTrack",
    "Tle",
    "TleError",
    "default_tle",
    "ground_track",
    "parse_tle",
    "read_tle",
]

#: The built-in element set of planning (the newest known to fermi-core, epoch 2026-06-26).
#: Replace it with the current one from flight dynamics when planning (``fermi-isoc plan --tle FILE``).
DEFAULT_TLE_LINES = TLE_2026_06_26


def default_tle() -> Tle:
    """Return the built-in Fermi TLE (see :data:`DEFAULT_TLE_LINES`)."""
    return tle_from_lines(DEFAULT_TLE_LINES, source="fermi_isoc built-in TLE (epoch 2026-06-26)")


def ground_track(tle: Tle, met: np.ndarray) -> GroundTrack:
    """Propagate ``tle`` with sgp4 to the MET times ``met`` and return the ground track.

    Raises
    ------
    TleError
        When sgp4 reports an error at any of the times (for example orbit decay far from the
        epoch), with the first such time.
    """
    return Orbit(tle).ground_track(met)
