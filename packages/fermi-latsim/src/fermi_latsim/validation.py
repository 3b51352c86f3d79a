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

from fermi_l1.recon import params as recon_params
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


#: containment fractions of :func:`containment_table` by default
TABLE_FRACTIONS = (0.68, 0.95, 0.99)
#: inclination bins (deg, true direction in the instrument frame) of :func:`containment_table`
TABLE_THETA_EDGES = (0.0, 30.0, 45.0, 60.0, 75.0)
#: fewest events a cell must have beyond a quantile for :meth:`ContainmentTable.radius` to use it
MIN_BEYOND = 5


@dataclass
class ContainmentTable:
    """Containment radii of our instrument (fermi-latsim detector + fermi-l1 reconstruction).

    ``radius_deg[f, c, t, e]`` is the ``fractions[f]`` quantile of the angle between the
    reconstructed and the true direction of the events with a track (any event class) of
    conversion type ``c`` (0 FRONT, 1 BACK, as reconstructed), true inclination in the bin
    ``theta_edges_deg[t:t + 2]`` and true energy ``energies_mev[e]``; ``n_events[c, t, e]`` is the
    number of events it was measured on.
    """

    energies_mev: np.ndarray
    theta_edges_deg: np.ndarray
    fractions: tuple[float, ...]
    radius_deg: np.ndarray
    n_events: np.ndarray

    def radius(
        self, fraction: float, energy_mev: np.ndarray, theta_deg: np.ndarray, conversion_type: np.ndarray
    ) -> np.ndarray:
        """Containment radius (deg) at each (true energy, true inclination, conversion type).

        Interpolated linearly in (log energy, log radius) between the table energies; the
        inclination bin holding ``theta_deg`` is used as is.

        Raises
        ------
        ValueError
            Naming the parameter: a fraction not in the table, an energy or inclination outside
            it, a conversion type other than 0/1, or a cell with fewer than
            :data:`MIN_BEYOND` events beyond the quantile (too few to measure it).
        """
        if fraction not in self.fractions:
            raise ValueError(f"parameter 'fraction': {fraction} not in the table {self.fractions}")
        e = np.atleast_1d(np.asarray(energy_mev, np.float64))
        th = np.atleast_1d(np.asarray(theta_deg, np.float64))
        ct = np.atleast_1d(np.asarray(conversion_type, np.int64))
        lo_e, hi_e = self.energies_mev[0], self.energies_mev[-1]
        bad = np.flatnonzero(~((e >= lo_e) & (e <= hi_e)))
        if bad.size:
            raise ValueError(f"parameter 'energy_mev': {e[bad[0]]} MeV outside the table ({lo_e}-{hi_e} MeV)")
        edges = self.theta_edges_deg
        t = np.searchsorted(edges, th, side="right") - 1
        bad = np.flatnonzero((t < 0) | (t >= edges.size - 1))
        if bad.size:
            raise ValueError(
                f"parameter 'theta_deg': {th[bad[0]]} deg outside the table ({edges[0]}-{edges[-1]})"
            )
        bad = np.flatnonzero((ct != 0) & (ct != 1))
        if bad.size:
            raise ValueError(f"parameter 'conversion_type': {ct[bad[0]]} (0 FRONT or 1 BACK expected)")
        f = self.fractions.index(fraction)
        j = np.clip(np.searchsorted(self.energies_mev, e, side="right") - 1, 0, self.energies_mev.size - 2)
        too_few = self.n_events * (1.0 - fraction) < MIN_BEYOND
        for k in (j, j + 1):
            few = np.flatnonzero(too_few[ct, t, k])
            if few.size:
                i = few[0]
                raise ValueError(
                    f"parameter 'fraction': {fraction} cannot be measured at {self.energies_mev[k[i]]} MeV, "
                    f"theta bin {edges[t[i]]}-{edges[t[i] + 1]} deg, conversion type {ct[i]}: "
                    f"{self.n_events[ct[i], t[i], k[i]]} events"
                )
        le = np.log(self.energies_mev)
        w = (np.log(e) - le[j]) / (le[j + 1] - le[j])
        r0 = np.log(self.radius_deg[f, ct, t, j])
        r1 = np.log(self.radius_deg[f, ct, t, j + 1])
        return np.exp((1 - w) * r0 + w * r1)

    def rows(self) -> list[str]:
        """The table as text, one line per energy, inclination bin and conversion type."""
        out = [f"{'E (MeV)':>9} {'theta':>7} {'type':>5} {'events':>7}  " + "  ".join(
            f"R{round(100 * f)}" for f in self.fractions)]  # fmt: skip
        for e, en in enumerate(self.energies_mev):
            for t in range(self.theta_edges_deg.size - 1):
                for c, name in enumerate(("FRONT", "BACK")):
                    radii = "  ".join(
                        f"{self.radius_deg[f, c, t, e]:5.2f}" for f in range(len(self.fractions))
                    )
                    out.append(
                        f"{en:9.1f} {self.theta_edges_deg[t]:3.0f}-{self.theta_edges_deg[t + 1]:<3.0f} "
                        f"{name:>5} {self.n_events[c, t, e]:7d}  {radii}"
                    )
        return out


def containment_table(
    energies_mev: tuple[float, ...],
    n: int = 20000,
    seed: int = 0,
    theta_edges_deg: tuple[float, ...] = TABLE_THETA_EDGES,
    fractions: tuple[float, ...] = TABLE_FRACTIONS,
) -> ContainmentTable:
    """Measure containment radii vs. true energy, true inclination and conversion type.

    One beam of ``n`` photons per energy, isotropic up to the last inclination edge, through
    the detector model, the datagram encoding, digi and reconstruction
    (:func:`fermi_latsim.beam.photon_beam`). Every event with a track counts, whatever its event
    class: this is the response an unselected photon gets.
    """
    energies = np.asarray(sorted(energies_mev), np.float64)
    edges = np.asarray(theta_edges_deg, np.float64)
    if energies.size < 2 or not (energies > 0).all():
        raise ValueError(
            f"parameter 'energies_mev': at least two positive energies needed, got {energies_mev}"
        )
    if edges.size < 2 or (np.diff(edges) <= 0).any() or edges[0] < 0 or edges[-1] > 90:
        raise ValueError(
            f"parameter 'theta_edges_deg': increasing values within 0-90 deg, got {theta_edges_deg}"
        )
    radius = np.full((len(fractions), 2, edges.size - 1, energies.size), np.nan)
    counts = np.zeros((2, edges.size - 1, energies.size), np.int64)
    for e, energy in enumerate(energies):
        beam = photon_beam(float(energy), n, seed=seed + e, theta_max_deg=float(edges[-1]))
        track = beam.recon["HAS_TRACK"]
        theta = np.degrees(np.arccos(np.clip(beam.truth_dir[:, 2], -1.0, 1.0)))
        t = np.searchsorted(edges, theta, side="right") - 1
        for c in (0, 1):
            for k in range(edges.size - 1):
                sel = track & (beam.recon["CONVERSION_TYPE"] == c) & (t == k)
                counts[c, k, e] = int(sel.sum())
                for f, frac in enumerate(fractions):
                    radius[f, c, k, e] = containment(beam.angle_deg[sel], frac)
    return ContainmentTable(energies, edges, tuple(fractions), radius, counts)
