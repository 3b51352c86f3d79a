"""Simulation profiles: ``light`` (small rates for quick tests) and ``flight`` (the LAT's rates).

A profile sets how many charged particles are simulated, whether their rate follows the orbit
(:mod:`fermi_latsim.geomag`), the triggers the on-board filter rejects (read out, hence dead
time, but never downlinked, so only their times are drawn) and the dead time per read-out.
Every figure is cited in docs/simulation/flight-profile.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from fermi_halfpipe.format import NOMINAL_TICKS_PER_SECOND
from fermi_latsim.events import DEAD_TICKS


@dataclass(frozen=True)
class Profile:
    """Rates and dead time of a simulation.

    Attributes
    ----------
    name, description
    charged_scale
        Factor on ``SkyModel.cosmic_ray_rate_hz`` (the charged particles simulated in full: the
        background events that pass the on-board filter and are downlinked).
    filtered_rate_hz
        Orbit-mean rate of triggers rejected on board (0: none; they only make dead time).
    dead_ticks
        Dead time per read-out, 50 ns ticks.
    modulated
        Whether the charged-particle rates follow :func:`fermi_latsim.geomag.rate_factor`.
    chunk_s
        Length of the stretches a run is simulated in (bounded memory); 0: a run at once.
    """

    name: str
    description: str
    charged_scale: float = 1.0
    filtered_rate_hz: float = 0.0
    dead_ticks: int = DEAD_TICKS
    modulated: bool = False
    chunk_s: float = 0.0

    @property
    def dead_s(self) -> float:
        """Dead time per read-out, s."""
        return self.dead_ticks / NOMINAL_TICKS_PER_SECOND


#: 26.5 us minimum read-out dead time (Atwood et al. 2009) + 17.7 us [ours] so that the
#: documented read-out rate (~2.15 kHz outside the SAA) gives the flight livetime 0.905
FLIGHT_DEAD_TICKS = 884

PROFILES: dict[str, Profile] = {
    "light": Profile(
        "light",
        "today's small rates (about 9 events/s read out, steady), 26.5 us per read-out: quick tests",
    ),
    "flight": Profile(
        "flight",
        "the LAT's rates: ~450 events/s downlinked and ~2.15 kHz read out (orbit mean), modulated "
        "by the geomagnetic cutoff and the SAA edges, livetime fraction ~0.9",
        charged_scale=83.0,
        filtered_rate_hz=1880.0,
        dead_ticks=FLIGHT_DEAD_TICKS,
        modulated=True,
        chunk_s=30.0,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a ValueError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"parameter 'profile': unknown profile {name!r} (known: {', '.join(PROFILES)})"
        ) from None
