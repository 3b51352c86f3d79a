"""The data-quality faults of the simulator (fermi_latsim.dq_faults) and the configuration keys.

The datagrams carry each run's configuration keys (format version 2): the planned ones, except
for the run of ``bad-config-key``; ``rate-excursion`` leaves a burst of events in the truth;
``dead-tracker-layers`` leaves no strip hit in the dead layers of its tower.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from fermi_halfpipe.datagram import decode_datagrams, reassemble
from fermi_halfpipe.planning import load_table
from fermi_ingest.ccsds import decode_file
from fermi_l1.digi import decode_events
from fermi_latsim import dq_faults
from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate

HOURS = 0.2
ALL = ("bad-config-key", "rate-excursion", "dead-tracker-layers")


def _decoded(root):
    out = []
    for d in sorted((root / "deliveries").iterdir()):
        for f in json.loads((d / "manifest.json").read_text())["files"]:
            t = decode_file(d / f["name"])
            ev = np.isin(t.apid, (956, 957))  # the event APIDs (not the spacecraft records)
            re = reassemble(
                *(np.asarray(c)[ev] for c in (t.apid, t.seq_flags, t.seq_count, t.sec, t.usec)),
                t.buffer,
                *(np.asarray(c)[ev] for c in (t.payload_offset, t.payload_length)),
            )
            out.append(decode_datagrams(re.buffer, re.offset, re.length, re.apid, re.sec, re.usec))
    return out


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("dq")
    return root, simulate(root, SimulationConfig(hours=HOURS, seed=5, faults=ALL))


def test_the_dq_faults_are_registered():
    assert set(ALL) <= set(FAULTS) and all(FAULTS[f] == dq_faults.DQ_FAULTS[f] for f in ALL)


def test_every_datagram_carries_its_runs_keys_and_one_run_an_unplanned_moot_key(faulty):
    root, summary = faulty
    fault = summary["faults"]["bad-config-key"]
    table = load_table()
    planned_moots = {c.keys.moot_key for c in table.changes}
    assert fault["config_keys"]["moot_key"] not in planned_moots
    by_run = {r["run"]: r["config_keys"] for r in summary["runs"]}
    for run, keys in by_run.items():
        want = fault["config_keys"] if run == fault["run"] else table.expected(run).as_dict()
        assert keys == want
    seen: dict[int, set] = {}
    for dec in _decoded(root):
        dg = dec.datagrams
        assert set(dg["version"].tolist()) == {2}
        for i in range(dg["run"].size):
            seen.setdefault(int(dg["run"][i]), set()).add(
                (int(dg["hw_key"][i]), int(dg["sw_key"][i]), int(dg["moot_key"][i]))
            )
    assert {r: {tuple(k.values())} for r, k in by_run.items()} == seen


def test_the_rate_excursion_is_in_the_truth(faulty):
    root, summary = faulty
    ex = summary["faults"]["rate-excursion"]
    t = pq.read_table(root / "truth" / "events.parquet").column("time").to_numpy()
    assert ex["stop"] - ex["start"] == pytest.approx(dq_faults.EXCURSION_SECONDS)
    inside = ((t >= ex["start"]) & (t < ex["stop"])).sum()
    assert inside == ex["events"] and ex["rate_hz"] > 5 * ex["rate_around_hz"] > 0


def test_the_dead_tracker_layers_have_no_hit(faulty):
    root, summary = faulty
    dead = summary["faults"]["dead-tracker-layers"]
    assert (dead["tower"], dead["planes"]) == (dq_faults.DEAD_TOWER, list(dq_faults.DEAD_PLANES))
    tower, plane = [], []
    for dec in _decoded(root):
        ev = dec.events
        digi = decode_events(dec.buffer, ev["offset"], ev["length"])
        tower.append(digi.tkr_tower)
        plane.append(digi.tkr_plane)
    tower, plane = np.concatenate(tower), np.concatenate(plane)
    mine = tower == dead["tower"]
    assert mine.sum() > 100  # the tower still sees tracks in its other layers
    assert not np.isin(plane[mine], dead["planes"]).any()
    assert np.isin(plane[~mine], dead["planes"]).sum() > 100  # the same layers of other towers do


def test_without_dq_faults_nothing_is_recorded(tmp_path):
    summary = simulate(tmp_path, SimulationConfig(hours=0.05, seed=5))
    assert not set(summary["faults"]) & set(ALL)
