"""fermi-ingest end to end on synthetic deliveries: archive, idempotence, refusal, quarantine, gaps, chunks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_ingest import synthetic as sy
from fermi_ingest.ccsds import decode_buffer, decode_file
from fermi_ingest.cli import main
from fermi_ingest.errors import DeliveryConflict, ManifestError
from fermi_ingest.ingest import IngestOptions, count_rows, ingest, read_chunk
from fermi_ingest.models import Chunk, Delivery, Gap, QuarantinedSpan

RUN = 600_000_000
SMALL_CHUNKS = IngestOptions(min_chunk_bytes=20_000)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    return tmp_path / "home"


def _packets(n=30, t0=float(RUN), count0=(16370, 5), run=RUN, sc=True):
    parts = [
        sy.event_stream(956, run, n, t0, first_count=count0[0], seed=1),
        sy.event_stream(957, run, n, t0 + 0.3, first_count=count0[1], seed=2),
    ]
    if sc:
        parts.append(sy.spacecraft_stream(t0, n))
    return sy.interleave(parts)


def _split(cols, k=2):
    return [cols.take(idx) for idx in np.array_split(np.arange(len(cols)), k)]


def test_ingest_archives_registers_and_chunks(tmp_path, home):
    cols = _packets()
    sy.write_delivery(tmp_path / "dl", "230401001", _split(cols))
    res = ingest(tmp_path / "dl", SMALL_CHUNKS)
    assert (res.already_ingested, res.n_packets, res.quarantined, res.gaps) == (False, len(cols), [], [])
    for f in sorted((tmp_path / "dl").glob("*.pkt")):  # archived byte for byte
        assert (home / "archive" / "level0" / "230401001" / f.name).read_bytes() == f.read_bytes()
    with session_scope() as s:
        chunks = s.scalars(select(Chunk).order_by(Chunk.number)).all()
        assert 1 < len(chunks) <= 20
        assert all(c.run_id == RUN for c in chunks)
        seen = []
        for c in chunks:
            table = decode_buffer(read_chunk(home / c.json_path))
            assert table.malformed == [] and len(table) == c.n_packets
            for apid in (956, 957):  # chunks start and end on datagram boundaries
                flags = table.seq_flags[table.apid == apid]
                assert flags[0] in (1, 3) and flags[-1] in (2, 3)
            seen.append(np.stack([table.apid, table.seq_count], axis=1))
            xml = ET.parse(home / c.xml_path).getroot()
            assert xml.find("run").get("id") == str(RUN) and xml.find("arch").text.endswith("230401001")
        seen = np.concatenate(seen)
        # every packet in exactly one chunk
        assert len(np.unique(seen, axis=0)) == len(seen) == len(cols)


def test_same_delivery_twice_lands_once(tmp_path, home, capsys):
    sy.write_delivery(tmp_path / "dl", "230401002", _split(_packets(n=8)))
    assert main(["ingest", str(tmp_path / "dl")]) == 0
    archived = home / "archive" / "level0" / "230401002" / "230401002_000.pkt"
    stamp = archived.stat().st_mtime_ns
    with session_scope() as s:
        before = count_rows(s)
    capsys.readouterr()
    assert main(["ingest", str(tmp_path / "dl")]) == 0
    assert "already ingested, nothing changed" in capsys.readouterr().out
    with session_scope() as s:
        assert count_rows(s) == before
    assert archived.stat().st_mtime_ns == stamp  # not copied again


def test_same_id_with_other_content_is_refused(tmp_path, home, capsys):
    sy.write_delivery(tmp_path / "a", "230401003", [_packets(n=4)])
    sy.write_delivery(tmp_path / "b", "230401003", [_packets(n=5)])
    ingest(tmp_path / "a")
    with pytest.raises(
        DeliveryConflict, match="delivery 230401003: already ingested with a different manifest"
    ):
        ingest(tmp_path / "b")
    assert main(["ingest", str(tmp_path / "b")]) == 1
    assert "230401003" in capsys.readouterr().err


def test_manifest_mismatch_is_refused_naming_the_file(tmp_path, home, capsys):
    d = tmp_path / "dl"
    sy.write_delivery(d, "230401004", _split(_packets(n=4)))
    victim = d / "230401004_001.pkt"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=r"230401004_001\.pkt: SHA-256 [0-9a-f]{64} differs"):
        ingest(d)
    assert main(["ingest", str(d)]) == 1
    assert "230401004_001.pkt" in capsys.readouterr().err
    victim.write_bytes(bytes(data[:-1]))
    with pytest.raises(ManifestError, match=r"230401004_001\.pkt: size \d+ bytes, manifest says \d+"):
        ingest(d)
    (d / "extra.pkt").write_bytes(b"x")
    with pytest.raises(ManifestError, match=r"extra\.pkt: file not listed"):
        ingest(d)
    with session_scope() as s:
        assert count_rows(s)["ingest_delivery"] == 0


def test_malformed_packets_are_quarantined_byte_exact_and_the_rest_proceeds(tmp_path, home):
    cols = _packets(n=10, sc=False)
    raw = sy.encode_packets(cols)
    lengths = cols.payload_length + 14
    start = int(np.cumsum(lengths)[4])
    raw[start] = 0xE0  # bad version in the header of packet 5
    raw = raw[:-7]  # and a truncated last packet
    sy.write_delivery(tmp_path / "dl", "230401005", [raw])
    res = ingest(tmp_path / "dl")
    assert res.n_packets == len(cols) - 2
    assert res.quarantined_bytes == int(lengths[5]) + int(lengths[-1]) - 7
    assert res.n_packets and res.n_bytes == raw.size
    with session_scope() as s:
        spans = s.scalars(select(QuarantinedSpan).order_by(QuarantinedSpan.offset)).all()
        assert [(q.offset, q.reason) for q in spans] == [
            (start, "bad version"),
            (raw.size - int(lengths[-1]) + 7, "truncated"),
        ]
        assert (home / spans[0].path).read_bytes() == raw[start : start + int(lengths[5])].tobytes()
        gaps = s.scalars(select(Gap)).all()
        # the lost packets show up as one-packet gaps of their APID (the truncated one is the last: no gap)
        assert [(g.apid, g.missing) for g in gaps] == [(int(cols.apid[5]), 1)]


def test_gap_across_deliveries_and_filled_later(tmp_path, home, capsys):
    cols = sy.event_stream(956, RUN, 30, float(RUN), first_count=16375)  # counts wrap inside
    a, b, c = cols.take(np.arange(0, 10)), cols.take(np.arange(10, 20)), cols.take(np.arange(20, 30))
    sy.write_delivery(tmp_path / "a", "230402001", [a])
    sy.write_delivery(tmp_path / "c", "230402002", [c])
    sy.write_delivery(tmp_path / "b", "230402003", [b])
    assert ingest(tmp_path / "a").gaps == []
    res_c = ingest(tmp_path / "c")
    (line,) = res_c.gaps
    assert "10 packets missing" in line
    with session_scope() as s:
        (gap,) = s.scalars(select(Gap)).all()
        names = {d.id: d.delivery_id for d in s.scalars(select(Delivery))}
        assert (gap.missing, gap.status) == (10, "open")
        assert (names[gap.delivery_before_pk], names[gap.delivery_after_pk]) == ("230402001", "230402002")
        assert (gap.seq_before, gap.seq_after) == (int(a.seq_count[-1]), int(c.seq_count[0]))
    res_b = ingest(tmp_path / "b")
    assert (res_b.gaps, res_b.filled_gaps) == ([], 1)
    with session_scope() as s:
        (gap,) = s.scalars(select(Gap)).all()
        assert gap.status == "filled"
        assert s.get(Delivery, gap.filled_by_pk).delivery_id == "230402003"
    capsys.readouterr()
    assert main(["gaps"]) == 0
    out = capsys.readouterr().out
    assert "filled by 230402003" in out and "230402001..230402002" in out
    assert main(["gaps", "--open"]) == 0
    assert "filled" not in capsys.readouterr().out


def test_packets_already_delivered_are_duplicates(tmp_path, home):
    cols = sy.event_stream(957, RUN, 12, float(RUN))
    sy.write_delivery(tmp_path / "a", "230403001", [cols.take(np.arange(0, 8))])
    sy.write_delivery(tmp_path / "b", "230403002", [cols.take(np.arange(5, 12))])  # 5, 6, 7 resent
    ingest(tmp_path / "a")
    res = ingest(tmp_path / "b")
    assert res.gaps == [] and res.n_packets == 4
    assert [q.split(": ")[-1] for q in res.quarantined] == [
        "duplicate (" + str(14 + int(n)) + " bytes)" for n in cols.payload_length[5:8]
    ]


def test_many_runs_give_at_most_20_chunks_one_run_each_when_possible(tmp_path, home):
    parts = [
        sy.event_stream(956, RUN + 100 * r, 2, RUN + 100.0 * r, first_count=2 * r, body_bytes=200)
        for r in range(25)
    ]
    sy.write_delivery(tmp_path / "many", "230404001", [sy.interleave(parts)])
    assert ingest(tmp_path / "many", IngestOptions(min_chunk_bytes=1)).n_chunks == 20
    few = [  # the other EPU: times inside the first delivery's, with counters of their own
        sy.event_stream(957, RUN + 1000 * r, 40, RUN + 1000.0 * r, first_count=40 * r, body_bytes=200)
        for r in range(3)
    ]
    sy.write_delivery(tmp_path / "few", "230404002", [sy.interleave(few)])
    ingest(tmp_path / "few", IngestOptions(min_chunk_bytes=1))
    with session_scope() as s:
        d = s.scalar(select(Delivery).where(Delivery.delivery_id == "230404002"))
        assert len(d.chunks) == 12  # the target, spread over the 3 runs
        assert sorted({c.run_id for c in d.chunks}) == [RUN, RUN + 1000, RUN + 2000]


def test_tar_delivery(tmp_path, home):
    cols = _packets(n=3)
    sy.write_delivery(tmp_path / "230405001", "230405001", [cols])
    tar = tmp_path / "230405001.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(tmp_path / "230405001", arcname="230405001")
    res = ingest(tar)
    assert res.n_packets == len(cols) and not res.already_ingested


def test_two_processes_ingest_different_deliveries_at_once(tmp_path, home):
    for i in (1, 2):
        sy.write_delivery(tmp_path / f"d{i}", f"23040600{i}", [_packets(n=6, t0=RUN + 100.0 * i)])
    env = dict(os.environ, FERMI_HOME=str(home))
    code = "import sys; from fermi_ingest.cli import main; sys.exit(main(['ingest', sys.argv[1]]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / f"d{i}")], env=env) for i in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with session_scope() as s:
        assert sorted(s.scalars(select(Delivery.delivery_id))) == ["230406001", "230406002"]


def test_status_lists_deliveries_chunks_and_quarantine(tmp_path, home, capsys):
    raw = sy.encode_packets(_packets(n=3))
    sy.write_delivery(
        tmp_path / "dl", "230407001", [np.concatenate([raw, np.full(20, 0xFF, dtype=np.uint8)])]
    )
    ingest(tmp_path / "dl")
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "230407001" in out and "bad version" in out and str(raw.size) in out
    assert main(["status", "--delivery", "999999999"]) == 1


def test_chunk_manifest_json_lists_archive_ranges(tmp_path, home):
    sy.write_delivery(tmp_path / "dl", "230408001", [_packets(n=4)])
    ingest(tmp_path / "dl")
    with session_scope() as s:
        (c,) = s.scalars(select(Chunk)).all()
    doc = json.loads((home / c.json_path).read_text())
    size = (home / "archive/level0/230408001/230408001_000.pkt").stat().st_size
    assert doc["files"] == [{"name": "230408001_000.pkt", "ranges": [[0, size]]}]
    assert len(decode_file(home / "archive/level0/230408001/230408001_000.pkt")) == doc["n_packets"]


def test_lost_datagram_is_a_datagram_gap_of_its_run(tmp_path, home):
    cols = sy.event_stream(956, RUN, 6, float(RUN), body_bytes=100)  # one packet per datagram
    keep = np.array([0, 1, 3, 4, 5])  # datagram 2 lost
    sy.write_delivery(tmp_path / "dl", "230409001", [cols.take(keep)])
    res = ingest(tmp_path / "dl")
    assert len(res.gaps) == 2
    with session_scope() as s:
        found = {(g.kind, g.missing, g.seq_before, g.seq_after) for g in s.scalars(select(Gap))}
    assert found == {("sequence", 1, 1, 3), ("datagram", 1, 1, 3)}
