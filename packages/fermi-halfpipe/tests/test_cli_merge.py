"""End to end through fermi-ingest: ingest a delivery, ``fermi-halfpipe merge``, ``status``, ``force-complete``."""

from __future__ import annotations

import json
import re

import numpy as np

from fermi_halfpipe.cli import main
from fermi_halfpipe.datagram import datagrams_to_packets
from fermi_halfpipe.outputs import read_merged
from fermi_halfpipe.spacecraft import encode_records, read_samples
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import datagram_packets
from fermi_ingest.ingest import ingest
from fermi_ingest.synthetic import interleave, write_delivery


def _samples(t0, n):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(n, 4))
    return {
        "sec": t0 + np.arange(n),
        "usec": np.full(n, 250_000),
        "flags": np.where(np.arange(n) % 5 == 0, 1, 0),
        "quaternion": q / np.linalg.norm(q, axis=1, keepdims=True),
        "position": rng.normal(size=(n, 3)) * 7e6,
        "velocity": rng.normal(size=(n, 3)) * 7e3,
        "sc_mode": np.zeros(n, int),
        "lat_mode": np.full(n, 5),
        "lat_config": np.ones(n, int),
        "data_qual": np.ones(n, int),
    }


def test_ingested_delivery_is_merged_and_reported(home, tmp_path, capsys):
    run = make_run(np.random.default_rng(12), 70, events_per_datagram=6)
    n0 = len(run.datagrams[956])
    sc = _samples(run.run, 20)
    sc_packets = datagrams_to_packets(1020, encode_records(sc), sec=sc["sec"], usec=sc["usec"])
    parts = [datagram_packets(run, 956, range(n0 - 1)), run.packets(957), sc_packets]
    write_delivery(tmp_path / "dl", "230401001", [interleave(parts)])
    assert not ingest(tmp_path / "dl").already_ingested
    assert main(["merge", "230401001", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (r,) = summary["runs"]
    assert r["status"] == "open" and r["delivered"] + r["held_back"] == 70 - int.from_bytes(
        run.datagrams[956][-1][28:32], "big"
    )
    f = r["files"][0]
    m = read_merged(home / f["path"], sha256=f["sha256"])
    assert m.metadata["run_id"] == str(run.run) and len(m) == f["n_events"]
    samples = read_samples(home / summary["spacecraft"]["path"])
    np.testing.assert_array_equal(samples["quaternion"], sc["quaternion"])
    np.testing.assert_array_equal(samples["position"], sc["position"])
    np.testing.assert_allclose(samples["met"], sc["sec"] + 0.25)
    assert samples["in_saa"].tolist() == (sc["flags"] == 1).tolist()

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"run {run.run}: held;" in out and "APID 956: run end missing" in out and "; deadline " in out
    assert sum(int(n) for n in re.findall(r"held: (\d+) events of APID", out)) == r["held_back"]
    assert "halfpipe/store/" in out
    assert main(["force-complete", str(run.run), "--reason", "last datagram lost at GSFC"]) == 0
    assert "incomplete — forced by operator: last datagram lost at GSFC" in capsys.readouterr().out
    assert main(["merge", "230401001"]) == 0  # a re-run reports the same summary
    assert f"run {run.run}: held;" in capsys.readouterr().out
    assert main(["force-complete", "123", "--reason", "x"]) == 1
    assert "run 123: unknown to the halfpipe" in capsys.readouterr().err


def test_merge_of_an_unknown_delivery_is_refused_with_a_clear_message(home, capsys):
    assert main(["merge", "999999999"]) == 1
    assert "delivery 999999999: not ingested" in capsys.readouterr().err


def test_a_copied_home_merges_its_own_archive_and_refuses_a_damaged_file(home, tmp_path):
    import shutil

    import pytest

    from fermi_core.site import Site
    from fermi_halfpipe.delivery import merge_delivery
    from fermi_halfpipe.errors import HalfpipeError

    run = make_run(np.random.default_rng(12), 40, events_per_datagram=6)
    write_delivery(tmp_path / "dl", "230401001", [interleave([run.packets(956), run.packets(957)])])
    ingest(tmp_path / "dl")
    copy = Site(tmp_path / "copy")
    shutil.copytree(home, copy.home)
    damaged = copy.archive_dir("230401001") / "230401001_000.pkt"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(HalfpipeError, match=f"archived file {damaged} differs from its registered SHA-256"):
        merge_delivery("230401001", site=copy)
    assert not copy.runs.exists()  # nothing merged in the copy
    summary = merge_delivery("230401001", site=Site(home))  # the original still merges
    assert summary["runs"][0]["status"] == "complete" and summary["runs"][0]["delivered"] == 40
