"""Sky and background: point sources, isotropic and Galactic diffuse gamma rays, the Earth limb,
and charged cosmic rays, as particles arriving at the LAT.

Every component produces particles hitting the tracker volume with a rate of
``flux x A(direction)``, where ``A`` is the area the tracker box presents to the particle
(:func:`fermi_latsim.detector.projected_area_mm2`: its top seen at ``cos(theta)`` plus the side
walls facing the particle), so the arrivals are meant for
``detector.simulate_response(..., entry="volume")``. At 60 deg the walls are more than half of
``A``; at the boresight ``A`` is the top alone (``AREA_CM2``), as before. Only directions in front
of the LAT (``theta < 90 deg``) arrive. Directions more than ``EARTH_OCCULTATION_DEG`` from the
zenith are blocked by the Earth (except for the limb itself, which *is* the Earth's atmosphere).
Energies follow power laws (with an optional exponential cut-off) between ``E_MIN_MEV`` and
``E_MAX_MEV``.

Fluxes are integral fluxes above 100 MeV from the 4FGL-DR3 catalogue (rounded) for the point
sources and typical published values for the diffuse components; the charged-particle rate is
a parameter (the real LAT triggers at ~2 kHz, mostly on cosmic rays; a simulation meant for
tests uses far fewer, and says so in its truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord

from fermi_l1.instrument import ARRAY_HALF_WIDTH_MM
from fermi_latsim.attitude import quaternion_to_matrix
from fermi_latsim.detector import TRACKER_BOTTOM_Z_MM, TRACKER_TOP_Z_MM, projected_area_mm2

E_MIN_MEV = 100.0
E_MAX_MEV = 300_000.0
#: Earth's horizon seen from ~535 km is 112-113 degrees from the zenith.
EARTH_OCCULTATION_DEG = 113.0
#: geometric area of the tracker top (4 x 4 towers), cm^2
AREA_CM2 = (2.0 * ARRAY_HALF_WIDTH_MM / 10.0) ** 2
#: largest area (cm^2) the tracker box presents to any direction, ``|(w h, w h, w^2)|`` for a box
#: of width ``w`` and height ``h``: candidates are drawn at this area and thinned to the true one
MAX_AREA_CM2 = (
    2.0
    * ARRAY_HALF_WIDTH_MM
    * np.hypot(2.0 * ARRAY_HALF_WIDTH_MM, np.sqrt(2.0) * (TRACKER_TOP_Z_MM - TRACKER_BOTTOM_Z_MM))
) / 100.0

#: particle codes of the truth (PDG numbers)
PHOTON = 22
PROTON = 2212


@dataclass(frozen=True)
class PointSource:
    """A steady point source: position (ICRS, deg), F(>100 MeV) ph cm^-2 s^-1, spectrum."""

    name: str
    ra_deg: float
    dec_deg: float
    flux: float
    index: float
    cutoff_mev: float | None = None


#: A few of the brightest steady GeV sources (4FGL-DR3, rounded).
BRIGHT_SOURCES = (
    PointSource("Vela", 128.8359, -45.1764, 1.1e-5, 1.6, 3000.0),
    PointSource("Geminga", 98.4756, 17.7703, 4.2e-6, 1.4, 2500.0),
    PointSource("Crab", 83.6331, 22.0145, 2.9e-6, 2.2),
)

#: component ids written to the truth (point sources are numbered from SOURCE_BASE)
ISOTROPIC, GALACTIC, LIMB, COSMIC_RAY = 1, 2, 3, 4
SOURCE_BASE = 10
COMPONENT_NAMES = {
    ISOTROPIC: "isotropic",
    GALACTIC: "galactic diffuse",
    LIMB: "earth limb",
    COSMIC_RAY: "cosmic ray",
}


@dataclass(frozen=True)
class SkyModel:
    """The emission simulated; fluxes above 100 MeV (ph cm^-2 s^-1, or sr^-1 for isotropic)."""

    sources: tuple[PointSource, ...] = BRIGHT_SOURCES
    isotropic_flux_sr: float = 1.5e-5
    isotropic_index: float = 2.3
    #: whole-sky integral of the Galactic diffuse emission, modelled as a disc |b| ~ 5 deg
    galactic_flux: float = 6.0e-4
    galactic_scale_height_deg: float = 5.0
    galactic_index: float = 2.6
    #: whole-ring integral of the Earth limb (thin ring at zenith angle ~112 deg)
    limb_flux: float = 1.0e-3
    limb_index: float = 2.8
    #: charged cosmic rays crossing the tracker top, per second; the side walls add to it (from
    #: each direction, ``A(direction) / (AREA_CM2 cos(theta))`` times more hit the tracker volume)
    cosmic_ray_rate_hz: float = 5.0
    cosmic_ray_index: float = 2.7
    cosmic_ray_emin_mev: float = 1000.0

    def names(self) -> dict[int, str]:
        """Component id -> name, point sources included."""
        out = dict(COMPONENT_NAMES)
        out.update({SOURCE_BASE + k: s.name for k, s in enumerate(self.sources)})
        return out


@dataclass
class Arrivals:
    """Particles arriving at the LAT, sorted by time.

    Attributes
    ----------
    met : (n,) float64
    direction : (n, 3) float64
        Unit vector toward where the particle comes from, GCRS.
    body : (n, 3) float64
        The same in the instrument frame (``body[:, 2] = cos(theta)``).
    energy_mev : (n,) float64
    component : (n,) int16
    particle : (n,) int16
        PDG code.
    """

    met: np.ndarray
    direction: np.ndarray
    body: np.ndarray
    energy_mev: np.ndarray
    component: np.ndarray
    particle: np.ndarray

    def __len__(self) -> int:
        return int(self.met.size)


def power_law(
    rng: np.random.Generator, n: int, index: float, emin: float, emax: float = E_MAX_MEV
) -> np.ndarray:
    """Energies from dN/dE ~ E^-index on [emin, emax] (inverse transform)."""
    u = rng.random(n)
    g = 1.0 - index
    if abs(g) < 1e-9:
        return emin * (emax / emin) ** u
    return (emin**g + u * (emax**g - emin**g)) ** (1.0 / g)


def _cutoff_power_law(rng: np.random.Generator, n: int, index: float, cutoff: float | None) -> np.ndarray:
    e = power_law(rng, n, index, E_MIN_MEV)
    if cutoff is None:
        return e
    keep = rng.random(n) < np.exp(-(e - E_MIN_MEV) / cutoff)
    while not keep.all():  # rejection: redraw the rejected ones
        bad = np.flatnonzero(~keep)
        e[bad] = power_law(rng, bad.size, index, E_MIN_MEV)
        keep[bad] = rng.random(bad.size) < np.exp(-(e[bad] - E_MIN_MEV) / cutoff)
    return e


def _radec_to_vec(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _isotropic_dirs(rng: np.random.Generator, n: int) -> np.ndarray:
    z = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    s = np.sqrt(1.0 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def _galactic_dirs(rng: np.random.Generator, n: int, height_deg: float) -> np.ndarray:
    lon = rng.uniform(0.0, 360.0, n)
    lat = np.clip(rng.laplace(0.0, height_deg, n), -90.0, 90.0)
    c = SkyCoord(l=lon, b=lat, unit="deg", frame="galactic").icrs
    return _radec_to_vec(c.ra.deg, c.dec.deg)


def _limb_dirs(rng: np.random.Generator, zenith: np.ndarray) -> np.ndarray:
    """Directions about 112 deg from the local zenith (Gaussian, sigma 1 deg), any azimuth."""
    n = zenith.shape[0]
    theta = np.radians(rng.normal(112.0, 1.0, n))
    ref = np.where(np.abs(zenith[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(zenith, ref)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(zenith, e1)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)[:, None]
    return np.cos(theta)[:, None] * zenith + np.sin(theta)[:, None] * (np.cos(phi) * e1 + np.sin(phi) * e2)


def modulated_times(
    rng: np.random.Generator, met_grid: np.ndarray, factor: np.ndarray, start: float, stop: float, rate: float
) -> np.ndarray:
    """Sorted times of a Poisson process of rate ``rate x factor`` on ``[start, stop)`` (thinning).

    ``factor`` is given at the ``met_grid`` samples; each time takes the nearest earlier one.
    """
    lo = max(int(np.searchsorted(met_grid, start, side="right")) - 1, 0)
    hi = int(np.searchsorted(met_grid, stop, side="right"))
    fmax = float(np.max(factor[lo : max(hi, lo + 1)]))
    if not fmax > 0:
        return np.zeros(0)
    t = np.sort(rng.uniform(start, stop, rng.poisson(rate * fmax * (stop - start))))
    f = factor[np.clip(np.searchsorted(met_grid, t, side="right") - 1, 0, met_grid.size - 1)]
    return t[rng.random(t.size) * fmax < f]


def sample_arrivals(
    rng: np.random.Generator,
    met_grid: np.ndarray,
    quaternion: np.ndarray,
    position: np.ndarray,
    start: float,
    stop: float,
    model: SkyModel | None = None,
    *,
    charged_factor: np.ndarray | None = None,
) -> Arrivals:
    """Draw the particles arriving at the LAT during ``[start, stop)``.

    ``met_grid`` (sorted), ``quaternion`` (body -> GCRS) and ``position`` (GCRS, any unit)
    describe the spacecraft; each candidate takes the attitude of the nearest earlier sample.
    Candidates are drawn at the all-sky rate of each component through ``MAX_AREA_CM2`` and kept
    with probability ``A(direction) / MAX_AREA_CM2`` (zero behind the LAT), which gives the
    ``flux x A(direction)`` rate of the tracker volume
    (:func:`fermi_latsim.detector.projected_area_mm2`); simulate their response with
    ``entry="volume"``. ``charged_factor`` (per ``met_grid`` sample, default 1) modulates the
    charged-particle rate along the orbit (:func:`fermi_latsim.geomag.rate_factor`).
    """
    model = model or SkyModel()
    duration = stop - start
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []

    def times(rate: float) -> np.ndarray:
        return np.sort(rng.uniform(start, stop, rng.poisson(rate * duration)))

    for k, src in enumerate(model.sources):
        t = times(src.flux * MAX_AREA_CM2)
        d = np.repeat(_radec_to_vec(np.array([src.ra_deg]), np.array([src.dec_deg])), t.size, axis=0)
        parts.append(
            (t, d, _cutoff_power_law(rng, t.size, src.index, src.cutoff_mev), SOURCE_BASE + k, PHOTON)
        )
    t = times(model.isotropic_flux_sr * 4.0 * np.pi * MAX_AREA_CM2)
    parts.append(
        (
            t,
            _isotropic_dirs(rng, t.size),
            power_law(rng, t.size, model.isotropic_index, E_MIN_MEV),
            ISOTROPIC,
            PHOTON,
        )
    )
    t = times(model.galactic_flux * MAX_AREA_CM2)
    parts.append(
        (
            t,
            _galactic_dirs(rng, t.size, model.galactic_scale_height_deg),
            power_law(rng, t.size, model.galactic_index, E_MIN_MEV),
            GALACTIC,
            PHOTON,
        )
    )
    t = times(model.limb_flux * MAX_AREA_CM2)
    zen = position[np.clip(np.searchsorted(met_grid, t, side="right") - 1, 0, met_grid.size - 1)]
    zen = zen / np.linalg.norm(zen, axis=1)[:, None] if t.size else np.empty((0, 3))
    parts.append((t, _limb_dirs(rng, zen), power_law(rng, t.size, model.limb_index, E_MIN_MEV), LIMB, PHOTON))
    # charged particles are isotropic; their rate is given through the top (pi sr x AREA_CM2 of
    # the isotropic intensity), hence 4 pi sr x MAX_AREA_CM2 of candidates
    cr_rate = model.cosmic_ray_rate_hz * 4.0 * MAX_AREA_CM2 / AREA_CM2
    if charged_factor is None:
        t = times(cr_rate)
    else:
        t = modulated_times(rng, met_grid, charged_factor, start, stop, cr_rate)
    parts.append(
        (
            t,
            _isotropic_dirs(rng, t.size),
            power_law(rng, t.size, model.cosmic_ray_index, model.cosmic_ray_emin_mev),
            COSMIC_RAY,
            PROTON,
        )
    )

    met = np.concatenate([p[0] for p in parts])
    direction = np.concatenate([p[1] for p in parts]).reshape(-1, 3)
    energy = np.concatenate([p[2] for p in parts])
    component = np.concatenate([np.full(p[0].size, p[3], np.int16) for p in parts])
    particle = np.concatenate([np.full(p[0].size, p[4], np.int16) for p in parts])
    idx = np.clip(np.searchsorted(met_grid, met, side="right") - 1, 0, met_grid.size - 1)
    rot = quaternion_to_matrix(quaternion[idx]) if met.size else np.empty((0, 3, 3))
    body = np.einsum("nji,nj->ni", rot, direction)  # R^T d: GCRS -> body
    zenith = position[idx] / np.linalg.norm(position[idx], axis=1)[:, None] if met.size else np.empty((0, 3))
    zen_angle = np.degrees(np.arccos(np.clip(np.sum(zenith * direction, axis=1), -1.0, 1.0)))
    visible = (zen_angle < EARTH_OCCULTATION_DEG) | (component == LIMB)
    area_cm2 = projected_area_mm2(body) / 100.0 if met.size else np.empty(0)
    keep = visible & (body[:, 2] > 0.0) & (rng.random(met.size) * MAX_AREA_CM2 < area_cm2)
    order = np.argsort(met[keep], kind="stable")
    sel = np.flatnonzero(keep)[order]
    return Arrivals(met[sel], direction[sel], body[sel], energy[sel], component[sel], particle[sel])
