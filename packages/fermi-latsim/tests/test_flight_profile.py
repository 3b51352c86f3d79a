"""The flight profile (docs/simulation/flight-profile.md): rates, livetime, bytes, determinism;
the simulator's numba kernels against their plain twins."""

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from fermi_latsim import _kernels, _reference, detector, events, geomag, sky, spacecraft
from fermi_latsim.cli import build_parser
from fermi_latsim.orbit import default_orbit
from fermi_latsim.profiles import PROFILES
from fermi_latsim.simulate import SimulationConfig, delivery_cuts, simulate

#: a short span at flight rate (~40 k events); the tests are not timed
HOURS = 0.03
#: documented ranges (docs/simulation/flight-profile.md, "What the tests check")
READOUT_RATE = (400.0, 500.0)  # events/s downlinked, orbit mean
LIVETIME_FRACTION = (0.85, 0.95)  # flight FT2 LIVETIME/(STOP-START): 0.90-0.91 mean, 0.83-0.94 rows
BYTES_PER_EVENT = (330.0, 450.0)  # delivered bytes per event (16 GB / 40 M events a day = 400)


def _digest(root):
    h = hashlib.sha256()
    for p in sorted((root / "deliveries").rglob("*.pkt")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    root = tmp_path_factory.mktemp("flight")
    summary = simulate(root, SimulationConfig(hours=HOURS, seed=11, profile="flight"))
    truth = pq.read_table(root / "truth" / "events.parquet").to_pydict()
    return root, summary, {k: np.asarray(v) for k, v in truth.items()}


@pytest.fixture(scope="module")
def timeline():
    orbit = default_orbit()
    start = float(np.floor(orbit.epoch_met))
    return spacecraft.timeline(orbit, start, start + 2 * orbit.mean_motion_period_s)


def test_rate_factor_averages_one_over_orbits_and_rises_at_the_saa(timeline):
    tl = timeline
    f = geomag.rate_factor(tl.met, tl.position, tl.lat_deg, tl.lon_deg, tl.in_saa)
    out = ~tl.in_saa
    assert tl.in_saa.any()
    assert 0.93 < f[out].mean() < 1.07
    assert np.all(f[tl.in_saa] == 0)
    assert f[out].max() / f[out].min() > 2.5  # the cutoff swing plus the SAA edges
    near = geomag.saa_edge_distance_s(tl.met, tl.in_saa) < 30
    assert f[out & near].mean() > 1.5 * f[out & ~near].mean()
    lshell = geomag.mcilwain_l(tl.position, tl.lat_deg, tl.lon_deg)
    assert 1.0 < lshell[out].min() < 1.2 and 1.4 < lshell[out].max() < 1.8


def test_flight_rates_livetime_and_bytes_fall_in_the_documented_ranges(flight, timeline):
    root, summary, truth = flight
    assert summary["profile"] == "flight"
    taking = sum(r["stop"] - r["start"] for r in summary["runs"])
    # the span is short: divide out the orbit modulation of its stretch to get the orbit mean
    orbit = default_orbit()
    tl = spacecraft.timeline(orbit, summary["start_met"], summary["stop_met"])
    f = geomag.rate_factor(tl.met, tl.position, tl.lat_deg, tl.lon_deg, tl.in_saa)
    cr = truth["component"] == sky.COSMIC_RAY
    charged_rate = cr.sum() / taking / f[~tl.in_saa].mean()
    rate = charged_rate + (~cr).sum() / taking
    assert READOUT_RATE[0] <= rate <= READOUT_RATE[1], rate
    readouts = summary["readouts"] / taking / f[~tl.in_saa].mean()
    assert 1800 < readouts < 2600, readouts  # ~2.1-2.2 kHz read out outside the SAA
    for run in summary["runs"]:
        m = truth["run"] == run["run"]
        if m.sum() < 1000:
            continue
        lt, t = truth["livetime_s"][m], truth["time"][m]
        frac = (lt[-1] - lt[0]) / (t[-1] - t[0])
        assert LIVETIME_FRACTION[0] <= frac <= LIVETIME_FRACTION[1], frac
        assert np.all(np.diff(lt) >= 0)
    size = sum(p.stat().st_size for p in (root / "deliveries").rglob("*.pkt"))
    per_event = size / summary["events"]
    assert BYTES_PER_EVENT[0] <= per_event <= BYTES_PER_EVENT[1], per_event
    assert summary["dead_time_per_readout_s"] == pytest.approx(44.2e-6)


def test_flight_same_seed_same_bytes(flight, tmp_path):
    root, summary, _ = flight
    again = simulate(tmp_path / "again", SimulationConfig(hours=HOURS, seed=11, profile="flight"))
    assert _digest(tmp_path / "again") == _digest(root)
    assert again["events"] == summary["events"]
    assert (
        json.loads((tmp_path / "again" / "truth" / "summary.json").read_text())["readouts"]
        == summary["readouts"]
    )


def test_light_is_the_python_default_and_flight_the_command_default():
    assert SimulationConfig().profile == "light"
    assert build_parser().parse_args(["simulate", "--out", "x"]).profile == "flight"
    assert PROFILES["light"].dead_ticks == events.DEAD_TICKS == 530  # 26.5 us (Atwood et al. 2009)
    with pytest.raises(ValueError, match="unknown profile"):
        simulate("/nonexistent", SimulationConfig(profile="heavy"))


def test_delivery_cadence_six_to_ten_a_day():
    for seed in range(5):
        cuts = delivery_cuts(np.random.default_rng(seed), 0.0, 86400.0, 3)
        assert 6 <= cuts.size - 1 <= 11  # 6-10 intervals, the last one cut at the end of the day


# ---------------------------------------------------------------------------------- kernels


def _response(seed=4, n=400):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.2, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    body = np.column_stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z])
    met = np.sort(rng.uniform(0.0, 5.0, n))
    charged = rng.random(n) < 0.7
    energy = np.where(charged, 3000.0, sky.power_law(rng, n, 2.0, 100.0))
    return detector.simulate_response(rng, 1000.0 + met, body, energy, charged, entry="volume")


def test_record_kernels_match_their_twins():
    resp = _response()
    assert len(resp) > 100
    out = []
    for k in (_kernels, _reference):
        h, gem, hw = events.event_headers(resp, 1000)
        out.append(events.event_records(resp, h, gem, hw, kernels=k))
    assert np.array_equal(out[0][1], out[1][1])
    assert np.array_equal(out[0][0], out[1][0])


def test_cut_datagrams_matches_its_twin():
    rng = np.random.default_rng(2)
    for n in (0, 1, 7, 600):
        lengths = rng.integers(200, 3000, n).astype(np.int64) // 4 * 4
        met = np.sort(rng.uniform(0, 20, n))
        for args in ((65536, 32, 256, 2.0), (8000, 48, 5, 0.5)):
            a = _kernels.cut_datagrams(lengths, met, *args)
            b = _reference.cut_datagrams(lengths, met, *args)
            for x, y in zip(a, b, strict=True):
                assert np.array_equal(x, y)


def test_dead_time_matches_its_twin():
    rng = np.random.default_rng(3)
    full = np.sort(rng.uniform(0, 1, 500))
    other = np.sort(rng.uniform(0, 1, 2000))
    a = _kernels.dead_time(full, other, 44.2e-6, -np.inf, 0, 0)
    b = _reference.dead_time(full, other, 44.2e-6, -np.inf, 0, 0)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    acc, before, _, _, readouts, lost = a
    assert readouts + lost == full.size + other.size
    assert np.all(np.diff(before[acc]) >= 1)
