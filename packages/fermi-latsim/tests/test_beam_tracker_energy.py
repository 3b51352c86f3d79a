"""fermi-l1's tracker energy estimate on the full detector simulation (side-exiting photons)."""

from __future__ import annotations

import numpy as np

from fermi_l1.recon import params as P
from fermi_latsim.beam import photon_beam

# The resolution fermi-l1 states for its tracker estimate (tests/test_recon_tracker_energy.py there)
MEDIAN_RANGE = (0.6, 1.5)


def test_side_photons_at_1_gev_get_a_tracker_energy_near_the_truth() -> None:
    """Lepton energy sharing and two tracks make this wider than the toy beam: half-spread < 1."""
    b = photon_beam(1000.0, 1500, seed=4, theta_max_deg=75.0)
    rec = b.recon
    theta = np.degrees(np.arccos(b.truth_dir[:, 2]))
    sel = rec["HAS_TRACK"] & (rec["CAL_ENERGY_RAW"] < P.TKR_ENERGY_BELOW_CAL_MEV) & (theta > 45.0)
    assert sel.sum() > 100
    assert np.mean(rec["ENERGY"][sel] == 0.0) < 0.05
    q16, q50, q84 = np.percentile(rec["ENERGY"][sel] / 1000.0, [16, 50, 84])
    assert MEDIAN_RANGE[0] < q50 < MEDIAN_RANGE[1], (q16, q50, q84)
    assert (q84 - q16) / 2 < 1.0, (q16, q50, q84)
