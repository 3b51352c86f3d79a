"""The packets fermi-ingest publishes: exactly those it accepted, from the home's own verified archive."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fermi_core.db import session_scope
from fermi_core.errors import BadInput
from fermi_core.site import Site
from fermi_ingest import synthetic as sy
from fermi_ingest.ingest import ingest
from fermi_ingest.published import AcceptedPackets, ArchiveDamaged, NotIngested, accepted_packets

RUN = 600_000_000


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    return Site(tmp_path / "home")


def _packets(n=8):
    return sy.interleave(
        [
            sy.event_stream(956, RUN, n, float(RUN), seed=1, body_bytes=600),
            sy.event_stream(957, RUN, n, RUN + 0.3, seed=2, body_bytes=600),
            sy.spacecraft_stream(float(RUN), n),
        ]
    )


def _read(site: Site, delivery_id: str) -> AcceptedPackets:
    with session_scope(site.db_url) as s:
        return accepted_packets(s, site, delivery_id)


def _payloads(pk: AcceptedPackets) -> list[bytes]:
    return [
        pk.payload[o : o + n].tobytes() for o, n in zip(pk.payload_offset, pk.payload_length, strict=True)
    ]


def test_the_accepted_packets_are_those_of_the_files_in_arrival_order(tmp_path, site):
    cols = _packets()
    halves = [cols.take(np.arange(len(cols) // 2)), cols.take(np.arange(len(cols) // 2, len(cols)))]
    sy.write_delivery(tmp_path / "dl", "230401001", halves)
    ingest(tmp_path / "dl", site=site)
    pk = _read(site, "230401001")
    assert len(pk) == len(cols) and pk.apid.tolist() == cols.apid.tolist()
    assert pk.seq_count.tolist() == cols.seq_count.tolist() and pk.sec.tolist() == cols.sec.tolist()
    assert pk.source_names == ["230401001/230401001_000.pkt", "230401001/230401001_001.pkt"]
    # offsets in each file are those of the encoded packets (as from_columns computes them)
    for i, half in enumerate(halves):
        mine = pk.select(pk.source_index == i)
        assert mine.source_offset.tolist() == AcceptedPackets.from_columns(half).source_offset.tolist()
        assert _payloads(mine) == _payloads(AcceptedPackets.from_columns(half))


def test_quarantined_packets_are_left_out(tmp_path, site):
    cols = _packets()
    raw = sy.encode_packets(cols)
    lengths = cols.payload_length + 14
    raw[int(np.cumsum(lengths)[4])] = 0xE0  # bad version in the header of packet 5
    sy.write_delivery(tmp_path / "dl", "230401002", [raw])
    res = ingest(tmp_path / "dl", site=site)
    pk = _read(site, "230401002")
    assert len(pk) == res.n_packets == len(cols) - 1
    keep = np.arange(len(cols)) != 5
    assert pk.seq_count.tolist() == cols.seq_count[keep].tolist()
    assert _payloads(pk) == [
        p for p, k in zip(_payloads(AcceptedPackets.from_columns(cols)), keep, strict=True) if k
    ]


def test_a_copied_home_reads_and_verifies_its_own_archive(tmp_path, site):
    sy.write_delivery(tmp_path / "dl", "230401003", [_packets()])
    ingest(tmp_path / "dl", site=site)
    copy = Site(tmp_path / "copy")
    shutil.copytree(site.home, copy.home)
    damaged = copy.archive_dir("230401003") / "230401003_000.pkt"
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ArchiveDamaged, match=f"{damaged}.* differs from its registered SHA-256") as err:
        _read(copy, "230401003")
    assert isinstance(err.value, BadInput)
    assert len(_read(site, "230401003")) == len(_packets())  # the original is untouched
    damaged.unlink()
    with pytest.raises(ArchiveDamaged, match=str(damaged)):
        _read(copy, "230401003")


def test_an_unknown_delivery_is_refused(site, tmp_path):
    sy.write_delivery(tmp_path / "dl", "230401004", [_packets(2)])
    ingest(tmp_path / "dl", site=site)
    with pytest.raises(NotIngested, match="delivery 999: not ingested"):
        _read(site, "999")


def _same(a: AcceptedPackets, b: AcceptedPackets) -> None:
    for k in (
        "apid",
        "seq_flags",
        "seq_count",
        "sec",
        "usec",
        "payload_length",
        "source_index",
        "source_offset",
    ):
        assert getattr(a, k).tolist() == getattr(b, k).tolist(), k
    assert a.source_names == b.source_names
    assert _payloads(a) == _payloads(b)


@pytest.fixture(scope="module")
def big_delivery(tmp_path_factory):
    """A delivery of two files, the first (≈2.8 MB) with a 3 kB stretch of garbage and a bad header in it."""
    tmp = tmp_path_factory.mktemp("pieces")
    site = Site(tmp / "home", f"sqlite:///{tmp / 'fermi.db'}")
    cols = _packets(3000)
    raw = sy.encode_packets(cols.take(np.arange(6000)))
    ends = np.cumsum(cols.payload_length[:6000] + 14)
    raw[int(ends[700]) : int(ends[700]) + 3000] = np.random.default_rng(5).integers(
        0, 256, 3000, dtype=np.uint8
    )
    raw[int(ends[4500])] = 0xE0  # bad version in a header
    sy.write_delivery(tmp / "dl", "230401005", [raw, cols.take(np.arange(6000, len(cols)))])
    res = ingest(tmp / "dl", site=site)
    assert res.quarantined and raw.size > 4 * 2 * 65542
    return site


@pytest.mark.parametrize("budget", [1, 300_000, 10**9])
def test_a_delivery_read_piece_by_piece_gives_exactly_its_accepted_packets(big_delivery, budget):
    from fermi_ingest.published import delivery_pieces

    with session_scope(big_delivery.db_url) as s:
        whole = accepted_packets(s, big_delivery, "230401005")
        pieces = delivery_pieces(s, big_delivery, "230401005", budget)
    got = list(pieces)  # read after the session closed
    if budget < 10**9:  # the first file is read in windows of 4 × 2 × 65542 bytes at least
        assert len(got) > 4 and max(int(p.payload.size) for p in got) <= max(budget, 4 * 2 * 65542) * 2
    else:
        assert len(got) == 1
    _same(AcceptedPackets.concatenate(got, pieces.source_names), whole)
    # the in-memory packets cut into pieces (views) give them back too
    again = list(whole.pieces(50_000))
    assert len(again) > 10
    _same(AcceptedPackets.concatenate(again, whole.source_names), whole)


def test_a_damaged_file_read_in_pieces_is_refused_at_its_end(big_delivery, tmp_path):
    from fermi_ingest.published import delivery_pieces

    copy = Site(tmp_path / "copy", big_delivery.db_url)  # the same database, the archive of the copy
    shutil.copytree(big_delivery.home, copy.home)
    damaged = copy.archive_dir("230401005") / "230401005_000.pkt"
    data = bytearray(damaged.read_bytes())
    data[-3] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with session_scope(copy.db_url) as s:
        pieces = iter(delivery_pieces(s, copy, "230401005", 1))
    first = next(pieces)  # the first windows are yielded before the end of the file is read
    assert len(first) > 0
    with pytest.raises(ArchiveDamaged, match=f"{damaged}.* differs from its registered SHA-256"):
        list(pieces)
    damaged.write_bytes(bytes(data[:-10]))  # shorter than registered
    with session_scope(copy.db_url) as s, pytest.raises(ArchiveDamaged, match=str(damaged)):
        list(delivery_pieces(s, copy, "230401005", 1))
