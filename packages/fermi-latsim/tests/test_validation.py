"""Detector/reconstruction consistency and science validation on a modest photon beam.

The beams go through the whole encoding path of a delivery (simulator -> fermi-halfpipe
datagrams -> fermi-halfpipe decoder -> fermi-l1 digi -> fermi-l1 recon), so a disagreement
between the simulator's detector and fermi-l1's instrument model shows up here.
"""

import numpy as np
import pytest

from fermi_l1 import instrument as lat
from fermi_latsim import detector, validation
from fermi_latsim.beam import isotropic_directions, photon_beam

N_PHOTONS = 2500  # ~1000 SOURCE-class events per energy
#: fermi-l1's stated energy bias of its reconstruction (toy generator validation)
RECON_BIAS = 0.03


@pytest.fixture(scope="module")
def performance():
    return {p.energy_mev: p for p in validation.run((1000.0, 10000.0), n=N_PHOTONS, seed=11)}


def test_mean_shower_profile_is_the_instruments(monkeypatch):
    # without depth fluctuations each layer gets exactly fermi_l1.instrument.shower_fraction
    monkeypatch.setattr(detector, "SHOWER_DEPTH_SPREAD", 0.0)
    e = np.array([300.0, 1000.0, 10000.0, 100000.0])
    t0 = np.array([0.5, 1.0, 1.2, 2.0])
    layer = np.full(4, lat.CAL_LAYER_X0 * 1.3)
    got = detector.shower_layer_fractions(np.random.default_rng(0), e, t0, layer)
    for k in range(lat.N_CAL_LAYERS):
        want = lat.shower_fraction(e, t0 + k * layer, t0 + (k + 1) * layer)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-9, atol=1e-12)


def test_showers_fluctuate_around_the_mean_profile():
    rng = np.random.default_rng(1)
    for e in (1000.0, 30000.0):
        f = detector.shower_layer_fractions(rng, np.full(4000, e), np.full(4000, 0.5), np.full(4000, 1.07))
        contained = f.sum(axis=1)
        mean_profile = lat.shower_fraction(e, 0.5, 0.5 + 8 * 1.07)
        assert np.median(contained) == pytest.approx(mean_profile, rel=0.02)
        assert 0.01 < np.std(contained) / mean_profile < 0.3  # fluctuates, but a shower stays a shower


def test_calorimeter_deposits_go_to_logs_that_exist():
    beam_rng = np.random.default_rng(2)
    n = 300
    body = isotropic_directions(beam_rng, n, 60.0)
    resp = detector.simulate_response(
        beam_rng, np.arange(n) * 0.01, body, np.full(n, 5000.0), np.zeros(n, bool)
    )
    logs = resp.logs
    assert logs.size > 0
    key = np.stack([logs["event"], logs["tower"], logs["layer"], logs["column"]], axis=1)
    assert np.unique(key, axis=0).shape[0] == logs.size  # one readout per log
    assert (logs["tower"] < 16).all() and (logs["layer"] < 8).all() and (logs["column"] < 12).all()
    e = np.sqrt(lat.cal_adc_to_energy(logs["range_pos"], logs["adc_pos"]) * lat.cal_adc_to_energy(
        logs["range_neg"], logs["adc_neg"]))  # fmt: skip
    assert e.min() >= lat.CAL_LOG_THRESHOLD_MEV * 0.95
    # energy is conserved up to leakage: no event reads more than its photon's energy (+ noise)
    per_event = np.bincount(logs["event"], weights=e, minlength=len(resp))
    assert per_event.max() < 5000.0 * 1.1


@pytest.mark.parametrize("energy", [1000.0, 10000.0])
def test_reconstructed_energy_is_unbiased(performance, energy):
    p = performance[energy]
    assert p.n_selected > 500
    assert abs(p.energy_median_ratio - 1.0) < RECON_BIAS, p


@pytest.mark.parametrize("energy", [1000.0, 10000.0])
def test_psf_and_energy_resolution_within_twice_the_published_lat(performance, energy):
    p = performance[energy]
    psf_pub, edisp_pub = validation.PUBLISHED_P8R2_SOURCE[energy]
    assert psf_pub / 2 < p.psf68_deg < 2 * psf_pub, p
    assert edisp_pub / 2 < p.energy_res68 < 2 * edisp_pub, p


@pytest.mark.parametrize("energy", [1000.0, 10000.0])
def test_front_converting_photons_are_better_measured_than_back(performance, energy):
    p = performance[energy]
    assert p.psf68_front_deg < p.psf68_back_deg, p


def test_psf_narrows_with_energy(performance):
    assert performance[10000.0].psf68_deg < performance[1000.0].psf68_deg / 3


def test_beam_rejects_bad_parameters():
    with pytest.raises(ValueError, match="energy_mev"):
        photon_beam(-1.0, 10)
    with pytest.raises(ValueError, match="theta_max_deg"):
        photon_beam(1000.0, 10, theta_max_deg=120.0)


@pytest.fixture(scope="module")
def table():
    return validation.containment_table((300.0, 3000.0), n=3500, seed=4, theta_edges_deg=(0.0, 40.0, 70.0))


def test_containment_radii_grow_with_fraction_and_shrink_with_energy(table):
    r = table.radius_deg
    assert table.n_events.min() > 200 and len(table.rows()) == 1 + 2 * 2 * 2
    assert (r[0] < r[1]).all() and (r[1] < r[2]).all()  # R68 < R95 < R99 in every cell
    assert (r[:, :, :, 1] < r[:, :, :, 0] / 3).all()  # a decade in energy: PSF ~ E^-0.8
    assert (r[0, 0] < r[0, 1]).all()  # FRONT better than BACK at 68 %
    assert (r[0, :, 0] < r[0, :, 1]).all()  # and near the boresight better than at high inclination


def test_containment_radius_interpolates_in_log_energy_and_picks_the_inclination_bin(table):
    at_grid = table.radius(0.68, [300.0, 3000.0, 3000.0], [10.0, 10.0, 55.0], [1, 1, 0])
    assert at_grid.tolist() == pytest.approx([table.radius_deg[0, 1, 0, 0], table.radius_deg[0, 1, 0, 1],
                                              table.radius_deg[0, 0, 1, 1]])  # fmt: skip
    mid = table.radius(0.95, [np.sqrt(300.0 * 3000.0)], [39.9], [0])[0]
    assert mid == pytest.approx(np.sqrt(table.radius_deg[1, 0, 0, 0] * table.radius_deg[1, 0, 0, 1]))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.5, [1000.0], [10.0], [0]), "'fraction': 0.5 not in the table"),
        ((0.68, [100.0], [10.0], [0]), "'energy_mev': 100.0 MeV outside"),
        ((0.68, [1000.0], [75.0], [0]), "'theta_deg': 75.0 deg outside"),
        ((0.68, [1000.0], [10.0], [2]), "'conversion_type': 2"),
    ],
)
def test_containment_radius_refuses_what_the_table_does_not_cover(table, args, match):
    with pytest.raises(ValueError, match=match):
        table.radius(*args)


def test_a_quantile_measured_on_too_few_events_is_refused():
    small = validation.containment_table((300.0, 3000.0), n=300, seed=4, theta_edges_deg=(0.0, 70.0))
    with pytest.raises(ValueError, match=r"0.99 cannot be measured at .* MeV, theta bin 0.0-70.0 deg"):
        small.radius(0.99, [1000.0], [10.0], [0])
    assert small.radius(0.68, [1000.0], [10.0], [0])[0] > 0
