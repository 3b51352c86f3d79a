"""CCSDS packet layer: exact byte layout, encode -> decode round trip, malformed packets, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fermi_ingest.ccsds import (
    MAX_PAYLOAD,
    PacketColumns,
    _kernels,
    _reference,
    concatenate,
    decode_buffer,
    decode_file,
    encode_packets,
    segment_datagrams,
)
from fermi_ingest.ccsds.decode import apid_mask


def _stream(seed: int = 1, n_dgm: int = 12) -> PacketColumns:
    """Two EPU streams and spacecraft records, interleaved by time like a real delivery."""
    rng = np.random.default_rng(seed)
    parts = []
    for apid, count0 in ((956, 16370), (957, 5)):
        dgms = [rng.integers(0, 256, rng.integers(0, 9000)).astype(np.uint8).tobytes() for _ in range(n_dgm)]
        secs = 600_000_000 + np.arange(n_dgm) * 3 + (apid - 956)
        parts.append(
            segment_datagrams(
                apid, dgms, sec=secs, usec=rng.integers(0, 1_000_000, n_dgm), first_count=count0
            )
        )
    sc = [rng.integers(0, 256, 104).astype(np.uint8).tobytes() for _ in range(n_dgm)]
    parts.append(segment_datagrams(1020, sc, sec=600_000_000 + np.arange(n_dgm) * 3, usec=999_999))
    cols = concatenate(parts)
    return cols.take(np.argsort(cols.sec + cols.usec * 1e-6, kind="stable"))


def _assert_same(a: PacketColumns, b: PacketColumns) -> None:
    for name in ("apid", "seq_flags", "seq_count", "sec", "usec", "payload_length"):
        np.testing.assert_array_equal(
            np.asarray(getattr(a, name)), np.asarray(getattr(b, name)), err_msg=name
        )
    np.testing.assert_array_equal(
        np.asarray(a.payload, dtype=np.uint8), np.asarray(b.payload, dtype=np.uint8)
    )


def test_single_packet_bytes_follow_the_format_document():
    cols = PacketColumns(
        apid=np.array([956]),
        seq_flags=np.array([3]),
        seq_count=np.array([5]),
        sec=np.array([0x01020304]),
        usec=np.array([7]),
        payload=np.array([0xAA], dtype=np.uint8),
        payload_length=np.array([1]),
    )
    # version 0, type 0, secondary header 1, APID 0x3BC; flags 11, count 5; data length 8
    expected = bytes.fromhex("0bbc c005 0008 01020304 00000007 aa".replace(" ", ""))
    assert encode_packets(cols).tobytes() == expected


def test_segmentation_sets_flags_and_wrapping_counts():
    cols = segment_datagrams(
        957, [b"a" * (2 * MAX_PAYLOAD + 1), b"", b"xy"], sec=[10, 11, 12], first_count=16382
    )
    assert cols.seq_flags.tolist() == [1, 0, 2, 3, 3]
    assert cols.seq_count.tolist() == [16382, 16383, 0, 1, 2]
    assert cols.payload_length.tolist() == [MAX_PAYLOAD, MAX_PAYLOAD, 1, 0, 2]
    assert cols.sec.tolist() == [10, 10, 10, 11, 12]


def test_round_trip_is_exact(tmp_path):
    cols = _stream()
    raw = encode_packets(cols)
    path = tmp_path / "d.pkt"
    raw.tofile(path)
    table = decode_file(path)
    assert table.malformed == []
    assert table.good_bytes == path.stat().st_size
    _assert_same(table.to_columns(), cols)
    # the payload of one packet is the bytes the encoder was given
    i = int(np.flatnonzero(cols.apid == 957)[3])
    start = int(cols.payload_start[i])
    assert table.payload(i).tobytes() == cols.payload[start : start + int(cols.payload_length[i])].tobytes()


def _corrupt(raw: np.ndarray, offset: int, byte: int, value: int) -> np.ndarray:
    out = raw.copy()
    out[offset + byte] = value
    return out


@pytest.mark.parametrize(
    ("byte", "value", "reason"),
    [
        (0, 0x2B, "bad version"),  # version bits 001
        (0, 0x1B, "telecommand packet"),
        (0, 0x03, "no secondary header"),
        (1, 0x00, "unknown APID"),  # APID 0x300 = 768
        (4, 0x00, "impossible length"),
        (10, 0xFF, "bad secondary header"),  # microseconds > 999999
    ],
)
def test_bad_header_is_reported_and_the_rest_decoded(byte, value, reason):
    cols = _stream(seed=2)
    raw = encode_packets(cols)
    lengths = cols.payload_length + 14
    starts = np.cumsum(lengths) - lengths
    k = len(cols) // 2
    if byte == 4:
        raw = _corrupt(raw, int(starts[k]), 5, 3)  # data length 3: smaller than the secondary header
    table = decode_buffer(_corrupt(raw, int(starts[k]), byte, value), source="d.pkt")
    (span,) = table.malformed
    assert (span.file, span.offset, span.length, span.reason) == (
        "d.pkt",
        int(starts[k]),
        int(lengths[k]),
        reason,
    )
    assert str(span).startswith(f"d.pkt: byte offset {starts[k]}: {reason}")
    keep = np.delete(np.arange(len(cols)), k)
    _assert_same(table.to_columns(), cols.take(keep))
    assert table.good_bytes + table.bad_bytes == raw.size


def test_truncated_file_reports_the_last_packet():
    cols = _stream(seed=3)
    raw = encode_packets(cols)
    lengths = cols.payload_length + 14
    cut = raw.size - int(lengths[-1]) + 9  # 9 bytes of the last packet remain
    table = decode_buffer(raw[:cut], source="t.pkt")
    (span,) = table.malformed
    assert (span.offset, span.length, span.reason) == (raw.size - int(lengths[-1]), 9, "truncated")
    assert len(table) == len(cols) - 1


def test_inserted_garbage_is_quarantined_byte_exact():
    cols = _stream(seed=4, n_dgm=4)
    raw = encode_packets(cols)
    lengths = cols.payload_length + 14
    cut = int(np.cumsum(lengths)[2])
    garbage = np.frombuffer(b"\xff" * 37, dtype=np.uint8)
    table = decode_buffer(np.concatenate([raw[:cut], garbage, raw[cut:]]), source="g.pkt")
    (span,) = table.malformed
    assert (span.offset, span.length, span.reason) == (cut, 37, "bad version")
    assert table.buffer[span.offset : span.offset + span.length].tobytes() == garbage.tobytes()
    _assert_same(table.to_columns(), cols)


def test_unknown_apids_accepted_when_asked():
    cols = segment_datagrams(33, [b"abc"], sec=1)
    raw = encode_packets(cols)
    assert decode_buffer(raw).malformed[0].reason == "unknown APID"
    assert len(decode_buffer(raw, apids=None)) == 1


def test_encoder_names_the_bad_column_and_index():
    cols = segment_datagrams(956, [b"a", b"b"], sec=1)
    cols.usec = np.array([0, 1_000_000])
    with pytest.raises(ValueError, match=r"'usec': value 1000000 at index 1"):
        encode_packets(cols)
    with pytest.raises(ValueError, match="'max_packet_length'"):
        decode_buffer(b"", max_packet_length=10)


def _check_tiling(buf: np.ndarray) -> None:
    mask = apid_mask((956, 957, 1020))
    got = _kernels.walk_packets(buf, mask, 4096)
    want = _reference.walk_packets(buf, mask, 4096)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    start, length, _ = got
    # records tile the buffer: contiguous, in order, nothing lost
    assert int(length.sum()) == buf.size
    np.testing.assert_array_equal(start, np.concatenate([[0], np.cumsum(length)[:-1]])[: start.size])


_BASE = encode_packets(_stream(seed=5, n_dgm=2))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data):
    _check_tiling(np.frombuffer(data, dtype=np.uint8))


@settings(max_examples=150, deadline=None)
@given(
    cut=st.integers(0, _BASE.size),
    flips=st.lists(st.tuples(st.integers(0, _BASE.size - 1), st.integers(0, 7)), max_size=8),
)
def test_fuzz_truncations_and_bit_flips(cut, flips):
    buf = _BASE.copy()
    for pos, bit in flips:
        buf[pos] ^= np.uint8(1 << bit)
    buf = buf[:cut]
    _check_tiling(buf)
    table = decode_buffer(buf, source="f.pkt")
    assert table.good_bytes + table.bad_bytes == buf.size
    if table.malformed:  # the decoder says where it stopped believing the data
        assert all(0 <= s.offset < buf.size for s in table.malformed)
