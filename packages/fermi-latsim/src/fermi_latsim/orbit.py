"""The orbit the simulator flies: Fermi's TLE of 2017-08-17, propagated by :mod:`fermi_core.mission.orbit`.

The propagation (sgp4, GCRS states in m and m/s, ground track) and the element sets are mission
facts defined once in :mod:`fermi_core.mission.orbit`; this module only chooses the element set
of simulations (the day of GW170817).
"""

from __future__ import annotations

from fermi_core.mission.orbit import TLE_2017_08_17, Orbit, tle_from_lines

#: The element set simulations fly by default.
DEFAULT_TLE = TLE_2017_08_17


def default_orbit() -> Orbit:
    """Return the propagator of :data:`DEFAULT_TLE`."""
    return Orbit(tle_from_lines(DEFAULT_TLE, source="fermi_latsim default TLE (epoch 2017-08-17)"))
