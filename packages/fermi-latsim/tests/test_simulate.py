"""End-to-end simulation: determinism, decoding of the deliveries, truth vs packets, faults."""

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from fermi_halfpipe.datagram import decode_datagrams, reassemble
from fermi_ingest.ccsds import decode_file
from fermi_ingest.manifest import verify_delivery
from fermi_latsim.cli import main
from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate

HOURS = 0.2


def _digest(root):
    h = hashlib.sha256()
    for p in sorted((root / "deliveries").rglob("*.pkt")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _decode(root):
    """Every delivery decoded: packet tables, events by (run, gem_seq) and the quarantined bytes."""
    tables = []
    for d in sorted((root / "deliveries").iterdir()):
        verify_delivery(d)
        for f in json.loads((d / "manifest.json").read_text())["files"]:
            tables.append(decode_file(d / f["name"]))
    return tables


def _events(tables):
    keys = set()
    for t in tables:
        re = reassemble(
            t.apid, t.seq_flags, t.seq_count, t.sec, t.usec, t.buffer, t.payload_offset, t.payload_length
        )
        dec = decode_datagrams(re.buffer, re.offset, re.length, re.apid, re.sec, re.usec)
        keys |= set(zip(dec.events["run"].tolist(), dec.events["gem_seq"].tolist(), strict=True))
    return keys


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    assert (
        main(["simulate", "--hours", str(HOURS), "--out", str(root), "--seed", "5", "--profile", "light"])
        == 0
    )
    return root


def test_same_seed_same_bytes_other_seed_other_bytes(clean, tmp_path):
    simulate(tmp_path / "a", SimulationConfig(hours=HOURS, seed=5))
    assert _digest(tmp_path / "a") == _digest(clean)
    simulate(tmp_path / "b", SimulationConfig(hours=HOURS, seed=6))
    assert _digest(tmp_path / "b") != _digest(clean)


def test_deliveries_decode_cleanly_and_match_the_truth(clean):
    summary = json.loads((clean / "truth" / "summary.json").read_text())
    truth = pq.read_table(clean / "truth" / "events.parquet").to_pydict()
    assert len(summary["deliveries"]) >= 3
    tables = _decode(clean)
    assert sum(t.bad_bytes for t in tables) == 0
    apid = np.concatenate([t.apid for t in tables])
    assert (apid == 1020).sum() == summary["spacecraft_records"] == int(HOURS * 3600 * 5)
    keys = _events(tables)
    assert keys == set(zip(truth["run"], truth["gem_seq"], strict=True))
    assert summary["events"] == len(truth["run"]) > 500
    # truth never inside a delivery
    assert not any(p.suffix == ".parquet" for p in (clean / "deliveries").rglob("*"))


def test_cli_rejects_unknown_fault(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--fault", "gremlins"]) == 2
    assert "gremlins" in capsys.readouterr().err


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_has_its_effect(fault, clean, tmp_path):
    summary = simulate(tmp_path, SimulationConfig(hours=HOURS, seed=5, faults=(fault,)))
    assert fault in summary["faults"] or (fault == "one-epu-run" and len(summary["runs"]) < 2)
    tables = _decode(tmp_path)
    bad = sum(t.bad_bytes for t in tables)
    counts = {a: np.concatenate([t.seq_count[t.apid == a] for t in tables]) for a in (956, 957, 1020)}
    if fault == "dropped-packets":
        n = summary["faults"][fault]["packets"]
        steps = np.concatenate([np.diff(c) % 16384 for c in (counts[956], counts[957])])
        assert n > 0 and int((steps - 1).sum()) == n
    elif fault == "corrupted-bytes":
        assert bad >= 32
    elif fault == "truncated-file":
        assert any(s.reason == "truncated" for t in tables for s in t.malformed)
    elif fault == "counters-near-wrap":
        assert counts[1020][0] == 16384 - 40 and (counts[1020] < 100).any()
    elif fault == "duplicated-datagrams":
        steps = np.concatenate([np.diff(c) % 16384 for c in (counts[956], counts[957])])
        assert (steps > 8192).any() or (steps == 0).any()  # the counter goes back
    elif fault == "late-epu":
        first = summary["deliveries"][0]["packets_per_apid"]
        assert "957" not in first and "956" in first
    elif fault == "one-epu-run" and len(summary["runs"]) > 1:
        run = summary["faults"][fault]["run"]
        truth = pq.read_table(tmp_path / "truth" / "events.parquet").to_pydict()
        epu = np.asarray(truth["epu"])[np.asarray(truth["run"]) == run]
        assert epu.size and (epu == 0).all()
    if fault not in ("corrupted-bytes", "truncated-file"):
        assert bad == 0
