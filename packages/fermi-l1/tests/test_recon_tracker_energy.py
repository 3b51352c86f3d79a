"""Tracker (multiple-scattering) energy of photons whose shower misses the calorimeter."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_l1.recon import _kernels, _reference, reconstruct
from fermi_l1.recon import params as P
from fermi_l1.recon.reconstruct import ENERGY_CAL, ENERGY_TKR
from fermi_l1.recon.toymc import simulate_photons

# Stated resolution of the tracker estimate for 1 GeV photons without calorimeter energy:
# E_rec / E_true median within these bounds and half the 16-84 % interval below SPREAD68.
MEDIAN_RANGE = (0.6, 1.5)
SPREAD68 = 0.6


def _side_beam(energy: float, n: int, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return simulate_photons(np.full(n, energy), rng.uniform(45, 75, n), rng.uniform(0, 360, n), rng)


def _no_cal(rec: dict[str, np.ndarray]) -> np.ndarray:
    return rec["HAS_TRACK"] & (rec["CAL_ENERGY_RAW"] < P.TKR_ENERGY_BELOW_CAL_MEV)


def test_kernel_matches_numpy_twin() -> None:
    events, _ = _side_beam(1000.0, 80, seed=3)
    cfg = _kernels.config()
    clu = _kernels.cluster_hits(
        events.tkr_ptr, events.tkr_tower, events.tkr_plane, events.tkr_view, events.tkr_strip, cfg
    )
    clu_ptr, clu_plane, clu_view, _t, _s, clu_pos, clu_z = clu
    e_win = np.full(events.n_events, 500.0)
    nhits, _f, _l, slope, _i, _c, _v, hits = _kernels.find_tracks(
        clu_ptr, clu_plane, clu_view, clu_pos, clu_z, e_win, P.TRACK_WINDOW_MM, 2, 3, cfg
    )
    cos = 1.0 / np.sqrt(1.0 + slope[:, 0] ** 2 + slope[:, 1] ** 2)
    fast = _kernels.tracker_energy(hits, nhits, clu_plane, clu_pos, clu_z, slope, cos, cfg)
    ref = _reference.tracker_energy(hits, nhits, clu_plane, clu_pos, clu_z, slope, cos, cfg)
    assert fast[0].dtype == np.float64 and fast[1].dtype == np.int16
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-9)
    np.testing.assert_array_equal(fast[1], ref[1])
    # a fair share of the events has an estimate, below the cap
    assert np.mean((fast[0] > 0) & (fast[0] < P.TKR_ENERGY_MAX_MEV)) > 0.5


def test_side_exiting_photons_get_tracker_energy() -> None:
    events, _ = _side_beam(1000.0, 600, seed=11)
    rec = reconstruct(events)
    sel = _no_cal(rec)
    assert sel.sum() > 100  # side exits are common at 45-75 deg
    method = rec["ENERGY_METHOD"][sel]
    assert np.mean(method == ENERGY_TKR) > 0.95
    ratio = rec["ENERGY"][sel][method == ENERGY_TKR] / 1000.0
    q16, q50, q84 = np.percentile(ratio, [16, 50, 84])
    assert MEDIAN_RANGE[0] < q50 < MEDIAN_RANGE[1], (q16, q50, q84)
    assert (q84 - q16) / 2 < SPREAD68, (q16, q50, q84)
    np.testing.assert_array_equal(
        rec["TKR_ENERGY"][sel][method == ENERGY_TKR], rec["ENERGY"][sel][method == 2]
    )


def test_tracker_energy_follows_the_true_energy() -> None:
    medians = []
    for energy, seed in ((200.0, 5), (3000.0, 6)):
        events, _ = _side_beam(energy, 400, seed)
        rec = reconstruct(events)
        sel = _no_cal(rec) & (rec["ENERGY_METHOD"] == ENERGY_TKR)
        medians.append(np.median(rec["ENERGY"][sel]))
    assert 100.0 < medians[0] < 400.0
    assert 1500.0 < medians[1] < 6000.0


def test_events_with_calorimeter_energy_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = _side_beam(1000.0, 300, seed=12)
    new = reconstruct(events)
    no_cal = _no_cal(new)
    cal = new["CAL_ENERGY_RAW"] >= P.TKR_ENERGY_BELOW_CAL_MEV
    monkeypatch.setattr(P, "TKR_ENERGY_BELOW_CAL_MEV", -1.0)  # the calorimeter-only energy of before
    old = reconstruct(events)
    assert cal.sum() > 50
    np.testing.assert_array_equal(new["ENERGY"][cal], old["ENERGY"][cal])
    assert np.all(new["ENERGY_METHOD"][cal] == ENERGY_CAL)
    # only ENERGY and ENERGY_METHOD may differ, and only for events without calorimeter energy
    for name in new:
        if name not in ("ENERGY", "ENERGY_METHOD"):
            np.testing.assert_array_equal(new[name], old[name], err_msg=name)
    assert np.mean(old["ENERGY"][no_cal] == 0.0) > 0.5
    assert np.mean(new["ENERGY"][no_cal] == 0.0) < 0.05
