"""Sky sampling, detector response and event datagrams decoded back by fermi-halfpipe."""

import numpy as np
import pytest

from fermi_halfpipe.datagram import datagrams_to_packets, decode_datagrams, reassemble
from fermi_ingest.ccsds import concatenate, decode_buffer, encode_packets
from fermi_l1 import instrument as lat
from fermi_latsim import detector, events, sky, spacecraft
from fermi_latsim.attitude import quaternion_to_matrix
from fermi_latsim.orbit import default_orbit


@pytest.fixture(scope="module")
def sim():
    orbit = default_orbit()
    t0 = float(np.floor(orbit.epoch_met))
    tl = spacecraft.timeline(orbit, t0, t0 + 120.0)
    rng = np.random.default_rng(7)
    arr = sky.sample_arrivals(rng, tl.met, tl.attitude.quaternion, tl.position, t0 + 1, t0 + 120.0)
    resp = detector.simulate_response(
        rng, arr.met, arr.body, arr.energy_mev, arr.particle == sky.PROTON, entry="volume"
    )
    enc = events.encode_run(
        resp, int(t0), rng, t0 + 120.0, events.DatagramPolicy(max_events=4, max_open_s=1.0)
    )
    return t0, arr, resp, enc


def test_arrivals_come_from_in_front_of_the_lat_and_include_every_component(sim):
    _, arr, _, _ = sim
    assert (arr.body[:, 2] > 0).all()
    assert np.all(np.diff(arr.met) >= 0)
    assert {sky.ISOTROPIC, sky.GALACTIC, sky.LIMB, sky.COSMIC_RAY} <= set(arr.component.tolist())
    assert arr.energy_mev.min() >= sky.E_MIN_MEV


def test_a_source_arrives_at_flux_times_the_area_the_tracker_presents_to_it():
    orbit = default_orbit()
    t0 = float(np.floor(orbit.epoch_met))
    tl = spacecraft.timeline(orbit, t0, t0 + 120.0)
    # a source 60 deg off the boresight at t0, facing one side wall
    body0 = np.array([np.sin(np.radians(60.0)), 0.0, np.cos(np.radians(60.0))])
    gcrs = quaternion_to_matrix(tl.attitude.quaternion[:1])[0] @ body0
    ra = np.degrees(np.arctan2(gcrs[1], gcrs[0])) % 360.0
    dec = np.degrees(np.arcsin(gcrs[2]))
    flux = 0.01
    model = sky.SkyModel(
        sources=(sky.PointSource("test", ra, dec, flux, 2.0),),
        isotropic_flux_sr=0.0,
        galactic_flux=0.0,
        limb_flux=0.0,
        cosmic_ray_rate_hz=0.0,
    )
    arr = sky.sample_arrivals(
        np.random.default_rng(3), tl.met, tl.attitude.quaternion, tl.position, t0 + 1, t0 + 120.0, model
    )
    # expected: flux x A(body direction) integrated over the interval (visible part only)
    t = np.linspace(t0 + 1, t0 + 120.0, 20_000, endpoint=False)
    idx = np.clip(np.searchsorted(tl.met, t, side="right") - 1, 0, tl.met.size - 1)
    body = np.einsum("nji,j->ni", quaternion_to_matrix(tl.attitude.quaternion[idx]), gcrs)
    zenith = tl.position[idx] / np.linalg.norm(tl.position[idx], axis=1)[:, None]
    visible = (np.degrees(np.arccos(zenith @ gcrs)) < sky.EARTH_OCCULTATION_DEG) & (body[:, 2] > 0)
    area_cm2 = np.where(visible, detector.projected_area_mm2(body) / 100.0, 0.0)
    expected = flux * area_cm2.mean() * 119.0
    top_only = flux * np.where(visible, sky.AREA_CM2 * body[:, 2], 0.0).mean() * 119.0
    assert expected > 1.3 * top_only > 1000  # the wall adds ~40 % at this inclination
    assert len(arr) == pytest.approx(expected, abs=5 * np.sqrt(expected))
    assert (arr.component == sky.SOURCE_BASE).all()


def test_power_law_index_is_recovered():
    e = sky.power_law(np.random.default_rng(0), 200_000, 2.5, 100.0, 1e6)
    index = 1.0 + e.size / np.sum(np.log(e / 100.0))  # maximum likelihood (emax ~ infinite)
    assert index == pytest.approx(2.5, abs=0.02)


def test_charged_particles_hit_the_acd_and_photons_convert_front_and_back(sim):
    _, arr, resp, _ = sim
    cr = arr.particle[resp.source] == sky.PROTON
    with_acd = np.isin(np.arange(len(resp)), resp.acd["event"])
    assert with_acd[cr].mean() > 0.9  # the ACD sees the charged particles it must veto
    assert with_acd[~cr].mean() < 0.2
    plane = resp.conversion_plane[~cr]
    assert (
        (plane >= 0).all() and (plane < lat.FIRST_BACK_PLANE).any() and (plane >= lat.FIRST_BACK_PLANE).any()
    )
    assert (resp.conversion_plane[cr] == -1).all()


def test_dead_strips_never_fire(sim):
    _, _, resp, _ = sim
    dead = detector.dead_strips()
    assert dead.size == 333 and (dead < detector.STRIPS_PER_TOWER).sum() == 111
    key = detector.strip_key(
        resp.strips["tower"], resp.strips["plane"], resp.strips["view"], resp.strips["strip"]
    )
    assert not np.isin(key, dead).any()


def test_datagrams_decode_with_fermi_halfpipe_exactly(sim):
    t0, _, resp, enc = sim
    parts = [
        datagrams_to_packets(956 + c, enc.datagrams[c], sec=np.floor(enc.times[c]).astype(np.int64))
        for c in (0, 1)
    ]
    table = decode_buffer(encode_packets(concatenate(parts)))
    re = reassemble(
        table.apid, table.seq_flags, table.seq_count, table.sec, table.usec, table.buffer,
        table.payload_offset, table.payload_length,
    )  # fmt: skip
    dec = decode_datagrams(re.buffer, re.offset, re.length, re.apid, re.sec, re.usec)
    assert not dec.problems and not re.fragments
    order = np.argsort(dec.events["gem_seq"])
    assert dec.events["gem_seq"][order].astype(np.int64).tolist() == list(range(len(resp)))
    assert np.abs(dec.events["event_time"][order] - resp.met).max() < 1e-6
    dg = dec.datagrams
    assert (dg["run"] == int(t0)).all()
    assert set(dg["close_reason"].tolist()) >= {
        events.REASON_COUNTED_OUT,
        events.REASON_TIMED_OUT,
        events.REASON_OPERATOR,
    }
    assert (dg["n_events"] <= 4).all()
    # exactly one start and one stop per EPU
    for apid in (956, 957):
        mine = dg["apid"] == apid
        assert (dg["open_action"][mine] == 0).sum() == 1 and (dg["close_action"][mine] == 0).sum() == 1
    assert (dec.events["livetime"] <= dec.events["elapsed"]).all()
