"""Replay of real data: the deliveries the week-323 FT1 + FT2 of PSR J0030+0451 would have come from."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from fermi_halfpipe.datagram import decode_datagrams, reassemble
from fermi_ingest.ccsds import decode_file
from fermi_ingest.manifest import verify_delivery
from fermi_l1.digi import decode_events
from fermi_latsim.cli import main
from fermi_latsim.replay import Pointing, replay_runs
from fermi_latsim.spacecraft import RECORD_DTYPE
from fermi_sciencetools_shim.io.ft1 import read_events
from fermi_sciencetools_shim.io.ft2 import read_ft2

FT1 = "pint/J0030+0451_w323_ft1weights.fits"
FT2 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"


def _circle(t):
    w = 2 * np.pi / 5700.0
    r = 6.9e6
    return np.column_stack(
        [r * np.cos(w * t), r * np.sin(w * t) * np.cos(0.45), r * np.sin(w * t) * np.sin(0.45)]
    )


def test_position_follows_the_orbit_between_rows():
    start = np.arange(0.0, 301.0, 30.0)
    q = np.tile([0.0, 0.0, 0.0, 1.0], (start.size, 1))
    p = Pointing(start, start + 30, q, _circle(start), np.array([[0.0, 330.0]]))
    t = np.linspace(0.0, 300.0, 1001)
    _, pos, vel = p.at(t)
    assert np.abs(np.linalg.norm(pos - _circle(t), axis=1)).max() < 1.0  # m; a chord would be ~900 m off
    speed = 2 * np.pi / 5700.0 * 6.9e6
    np.testing.assert_allclose(np.linalg.norm(vel, axis=1), speed, rtol=1e-4)


def test_photon_outside_the_good_intervals_is_named():
    p = Pointing(np.array([0.0, 30.0]), np.array([30.0, 60.0]), np.zeros((2, 4)), np.ones((2, 3)),
                 np.array([[0.0, 60.0]]))  # fmt: skip
    with pytest.raises(ValueError, match="FT1 row 1: TIME 75"):
        replay_runs(np.array([10.0, 75.0]), None, p, 60.0)


@pytest.fixture(scope="module")
def replayed(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("replay")
    rc = main(["replay", "--ft1", str(shared_data / FT1), "--ft2", str(shared_data / FT2), "--out", str(out),
               "--margin", "30", "--background"])  # fmt: skip
    assert rc == 0
    return out


@pytest.mark.requires_data
def test_replayed_deliveries_decode_and_hold_every_ft1_photon(replayed, shared_data):
    ft1, _ = read_events(shared_data / FT1, ["TIME", "ENERGY", "RA", "DEC", "RUN_ID"])
    truth = {
        k: np.asarray(v) for k, v in pq.read_table(replayed / "truth" / "events.parquet").to_pydict().items()
    }
    summary = json.loads((replayed / "truth" / "summary.json").read_text())
    assert summary["photons_replayed"] == summary["ft1_rows"] == ft1["TIME"].size == 27

    buffers, offsets, lengths, keys, times, records = [], [], [], [], [], []
    base = 0
    for d in sorted((replayed / "deliveries").iterdir()):
        verify_delivery(d)
        for f in json.loads((d / "manifest.json").read_text())["files"]:
            t = decode_file(d / f["name"])
            assert t.bad_bytes == 0 and not t.malformed
            sc = t.apid == 1020
            idx = np.asarray(t.payload_offset)[sc][:, None] + np.arange(RECORD_DTYPE.itemsize)
            records.append(np.asarray(t.buffer)[idx].view(RECORD_DTYPE).reshape(-1))
            ev = ~sc
            re = reassemble(*(np.asarray(c)[ev] for c in (t.apid, t.seq_flags, t.seq_count, t.sec, t.usec)),
                            t.buffer, np.asarray(t.payload_offset)[ev], np.asarray(t.payload_length)[ev])  # fmt: skip
            dec = decode_datagrams(re.buffer, re.offset, re.length, re.apid, re.sec, re.usec)
            assert not dec.problems
            keys += list(zip(dec.events["run"].tolist(), dec.events["gem_seq"].tolist(), strict=True))
            times.append(dec.events["event_time"])
            buffers.append(np.asarray(dec.buffer))
            offsets.append(dec.events["offset"] + base)
            lengths.append(dec.events["length"])
            base += buffers[-1].size
    # every simulated event is in the deliveries once, and decodes as a LAT event
    assert sorted(keys) == sorted(zip(truth["run"].tolist(), truth["gem_seq"].tolist(), strict=True))
    digi = decode_events(np.concatenate(buffers), np.concatenate(offsets), np.concatenate(lengths))
    assert (digi.status == 0).all() and digi.n_events == len(keys)

    # each FT1 photon: its run, its exact time, its energy and direction in the truth
    ph = truth["ft1_row"] >= 0
    rows = truth["ft1_row"][ph]
    assert sorted(rows.tolist()) == list(range(27))
    np.testing.assert_array_equal(truth["ft1_run_id"][ph], ft1["RUN_ID"][rows])
    assert (truth["run"][ph] <= ft1["TIME"][rows]).all()  # each photon inside its replayed run
    assert set(truth["run"].tolist()) == {r["run"] for r in summary["runs"]}
    assert np.abs(truth["time"][ph] - ft1["TIME"][rows]).max() < 1e-6
    decoded_time = dict(zip(keys, np.concatenate(times).tolist(), strict=True))
    for run, seq, row in zip(truth["run"][ph], truth["gem_seq"][ph], rows, strict=True):
        assert decoded_time[(int(run), int(seq))] == pytest.approx(ft1["TIME"][row], abs=1e-6)
    np.testing.assert_array_equal(truth["energy_mev"][ph], ft1["ENERGY"][rows])
    np.testing.assert_allclose(truth["ra"][ph], ft1["RA"][rows])
    assert (truth["component"][~ph] != 9).all() and (~ph).sum() > 100  # background was added

    # pointing: the spacecraft records carry the FT2 attitude and orbit at the FT2 row times
    rec = np.concatenate(records)
    ft2 = read_ft2(shared_data / FT2, ["START", "QSJ_1", "QSJ_2", "QSJ_3", "QSJ_4", "SC_POSITION"])
    t_rec = rec["sec"] + rec["usec"] * 1e-6
    on_row = np.isin(np.round(t_rec, 3), np.round(ft2["START"], 3))
    assert on_row.sum() > 50
    j = np.searchsorted(ft2["START"], t_rec[on_row] - 1e-4)
    qsj = np.column_stack([ft2[f"QSJ_{k}"][j] for k in (1, 2, 3, 4)])
    dot = np.abs(np.sum(qsj * rec["quaternion"][on_row], axis=1))
    assert np.degrees(2 * np.arccos(np.clip(dot, -1, 1))).max() < 1e-4  # arccos rounding near 1
    orbit = on_row & ((rec["flags"] & 4) == 0)
    if orbit.any():
        j = np.searchsorted(ft2["START"], t_rec[orbit] - 1e-4)
        assert np.abs(rec["position"][orbit] - ft2["SC_POSITION"][j]).max() < 1.0


@pytest.mark.requires_data
def test_replay_names_a_missing_file(tmp_path, shared_data, capsys):
    rc = main(
        [
            "replay",
            "--ft1",
            str(tmp_path / "nope.fits"),
            "--ft2",
            str(shared_data / FT2),
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 2
    assert "nope.fits" in capsys.readouterr().err
