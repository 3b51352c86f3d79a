"""Science validation: PSF and energy dispersion of simulated photons against the published LAT.

The published values are those of the Fermi LAT performance page for Pass 8
(P8R2_SOURCE_V6, FRONT+BACK, acceptance-weighted, read off its plots; address in
:data:`PERFORMANCE_PAGE`); see also Atwood et al. 2013, "Pass 8: Toward the Full Realization of the Fermi-LAT Scientific Potential",
arXiv:1303.3514. They are approximate (read from figures) and only used to check that our
simulation + reconstruction stays within a factor of two of the real instrument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_l1.recon import _params as recon_params
from fermi_latsim.beam import BeamResult, photon_beam

#: energy (MeV) -> (68 % containment angle deg, 68 % energy-resolution half width), P8R2_SOURCE_V6
PUBLISHED_P8R2_SOURCE = {1000.0: (0.8, 0.09), 10000.0: (0.17, 0.08)}
PERFORMANCE_PAGE = (
    "https://www.slac.stanford.edu/exp/glast/groups/canda/lat_Performance.htm"  # codespell:ignore slac
)
PUBLISHED_REFERENCE = (
    f"Fermi LAT performance page, P8R2_SOURCE_V6 ({PERFORMANCE_PAGE}); Atwood et al. 2013, arXiv:1303.3514"
)


@dataclass
class Performance:
    """Resolutions measured on one beam (SOURCE-class events with a track)."""

    energy_mev: float
    n_photons: int
    n_events: int
    n_selected: int
    psf68_deg: float
    psf68_front_deg: float
    psf68_back_deg: float
    energy_median_ratio: float
    energy_res68: float

    def row(self) -> str:
        """One line of the side-by-side table."""
        pub = PUBLISHED_P8R2_SOURCE.get(self.energy_mev, (np.nan, np.nan))
        return (
            f"{self.energy_mev / 1000:6.1f} GeV  {self.n_selected:6d}  "
            f"PSF68 {self.psf68_deg:6.3f} deg (pub {pub[0]:.2f}; FRONT {self.psf68_front_deg:.3f}, "
            f"BACK {self.psf68_back_deg:.3f})  dE/E68 {self.energy_res68:6.3f} (pub {pub[1]:.2f})  "
            f"median E_rec/E_true {self.energy_median_ratio:.3f}"
        )


def containment(values: np.ndarray, fraction: float = 0.68) -> float:
    """The ``fraction`` quantile of ``values`` ignoring NaN (NaN if none)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(np.quantile(v, fraction)) if v.size else float("nan")


def source_class(beam: BeamResult) -> np.ndarray:
    """Events with a track in the SOURCE class (as the published SOURCE-class IRFs)."""
    return beam.recon["HAS_TRACK"] & ((beam.recon["EVENT_CLASS"] & recon_params.SOURCE) != 0)


def measure(beam: BeamResult) -> Performance:
    """Resolutions of a beam: 68 % containment angle (all, FRONT, BACK) and energy dispersion.

    The energy resolution is the 68 % half width of ``E_rec/E_true`` around its median.
    """
    sel = source_class(beam)
    ang = beam.angle_deg
    ctype = beam.recon["CONVERSION_TYPE"]
    ratio = beam.recon["ENERGY"][sel] / beam.energy_mev[sel]
    med = float(np.median(ratio)) if ratio.size else float("nan")
    return Performance(
        energy_mev=float(beam.energy_mev[0]) if beam.energy_mev.size else float("nan"),
        n_photons=beam.n_photons,
        n_events=int(sel.size),
        n_selected=int(sel.sum()),
        psf68_deg=containment(ang[sel]),
        psf68_front_deg=containment(ang[sel & (ctype == 0)]),
        psf68_back_deg=containment(ang[sel & (ctype == 1)]),
        energy_median_ratio=med,
        energy_res68=containment(np.abs(ratio - med)),
    )


def run(
    energies_mev: tuple[float, ...] = (1000.0, 10000.0), n: int = 2000, seed: int = 0
) -> list[Performance]:
    """Measure the performance at each energy with beams of ``n`` photons."""
    return [measure(photon_beam(e, n, seed=seed + k)) for k, e in enumerate(energies_mev)]
