"""digi: event records <-> hit arrays; numba kernels against the plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_l1.digi import (
    FIELD_NAMES,
    DigiError,
    decode_events,
    encode_events,
    event_time,
    make_events,
)
from fermi_l1.digi import _reference as ref
from fermi_l1.digi._layout import FIELD_DTYPE


def _random_events(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    header = {}
    for name in FIELD_NAMES:
        bits = min(FIELD_DTYPE[name].itemsize * 8, 63)
        header[name] = rng.integers(0, 2**bits, n, dtype=np.uint64).astype(FIELD_DTYPE[name])
    header["event_summary"] = (header["event_summary"] & 0x1FFFF).astype(np.uint32)
    header["gem_sequence"] = np.arange(n, dtype=np.uint64) + 1000
    nt = rng.integers(0, 40, n)
    nt[0] = 0  # an event with no tracker hit at all
    ev = np.repeat(np.arange(n), nt)
    tkr = {
        "event": ev,
        "tower": rng.integers(0, 16, ev.size),
        "plane": rng.integers(0, 18, ev.size),
        "view": rng.integers(0, 2, ev.size),
        "strip": rng.integers(0, 1536, ev.size),
    }
    nc = rng.integers(0, 10, n)
    evc = np.repeat(np.arange(n), nc)
    # distinct (tower, layer, column) per event
    slot = (
        np.concatenate([rng.choice(16 * 96, k, replace=False) for k in nc]) if evc.size else np.zeros(0, int)
    )
    cal = {
        "event": evc,
        "tower": slot // 96,
        "layer": (slot // 12) % 8,
        "column": slot % 12,
        "range_pos": rng.integers(0, 4, evc.size),
        "range_neg": rng.integers(0, 4, evc.size),
        "adc_pos": rng.integers(0, 4096, evc.size),
        "adc_neg": rng.integers(0, 4096, evc.size),
    }
    na = rng.integers(0, 3, n)
    eva = np.repeat(np.arange(n), na)
    ids = np.concatenate([rng.choice(np.arange(0, 45), k, replace=False) for k in na]) if eva.size else []
    acd = {
        "event": eva,
        "id": np.asarray(ids, dtype=int),
        "flags": rng.integers(0, 16, eva.size),
        "ranges": rng.integers(0, 4, eva.size),
        "pha_a": rng.integers(0, 4096, eva.size),
        "pha_b": rng.integers(0, 4096, eva.size),
    }
    return make_events(header, tkr, cal, acd)


def _assert_same(a, b) -> None:
    for name in FIELD_NAMES:
        assert np.array_equal(a.header[name], b.header[name]), name
    for attr in (
        "tkr_ptr tkr_tower tkr_plane tkr_view tkr_strip cal_ptr cal_tower cal_layer cal_column "
        "cal_range_pos cal_range_neg cal_adc_pos cal_adc_neg acd_ptr acd_id acd_flags acd_ranges "
        "acd_pha_a acd_pha_b"
    ).split():
        assert np.array_equal(getattr(a, attr), getattr(b, attr)), attr


def test_encode_decode_round_trip() -> None:
    events = _random_events(60)
    buf, offsets, lengths = encode_events(events)
    assert np.all(lengths % 4 == 0)
    back = decode_events(buf, offsets, lengths)
    assert np.all(back.status == 0)
    _assert_same(events, back)
    # the records may sit anywhere in a larger buffer (as read_merged delivers them)
    shifted = np.concatenate([np.zeros(12, np.uint8), buf])
    _assert_same(events, decode_events(shifted, offsets + 12, lengths))


def test_kernels_match_reference_decoder_and_encoder() -> None:
    events = _random_events(40, seed=7)
    buf, offsets, lengths = encode_events(events)
    status, fault, counts, fields, tkr, cal, acd, ptrs = ref.decode_records(buf, offsets, lengths)
    assert np.all(status == 0) and np.all(fault == 0)
    kernel = decode_events(buf, offsets, lengths)
    assert np.array_equal(counts[:, 0], np.diff(kernel.tkr_ptr))
    assert np.array_equal(fields[:, FIELD_NAMES.index("gem_sequence")], kernel.header["gem_sequence"])
    assert np.array_equal(ptrs[0], kernel.tkr_ptr) and np.array_equal(ptrs[2], kernel.acd_ptr)
    assert np.array_equal(tkr[:, 3], kernel.tkr_strip)
    assert np.array_equal(cal[:, 5], kernel.cal_adc_pos)
    assert np.array_equal(acd[:, 0], kernel.acd_id)
    # the reference encoder writes the same bytes, record by record
    for i in (0, 1, 17, 39):
        sl = slice(kernel.tkr_ptr[i], kernel.tkr_ptr[i + 1])
        cl = slice(kernel.cal_ptr[i], kernel.cal_ptr[i + 1])
        towers = sorted(set(kernel.tkr_tower[sl].tolist()) | set(kernel.cal_tower[cl].tolist()))
        tems = []
        for t in towers:
            ms = kernel.tkr_tower[sl] == t
            mc = kernel.cal_tower[cl] == t
            strips = list(
                zip(kernel.tkr_plane[sl][ms], kernel.tkr_view[sl][ms], kernel.tkr_strip[sl][ms], strict=True)
            )
            logs = list(
                zip(
                    *(
                        getattr(kernel, a)[cl][mc]
                        for a in (
                            "cal_layer",
                            "cal_column",
                            "cal_range_pos",
                            "cal_range_neg",
                            "cal_adc_pos",
                            "cal_adc_neg",
                        )
                    ),
                    strict=True,
                )
            )
            tems.append(
                (t, [tuple(int(v) for v in s) for s in strips], [tuple(int(v) for v in g) for g in logs])
            )
        al = slice(kernel.acd_ptr[i], kernel.acd_ptr[i + 1])
        hits = list(
            zip(
                *(
                    getattr(kernel, a)[al].tolist()
                    for a in ("acd_id", "acd_flags", "acd_ranges", "acd_pha_a", "acd_pha_b")
                ),
                strict=True,
            )
        )
        fields_i = {name: int(kernel.header[name][i]) for name in FIELD_NAMES}
        record = ref.encode_record(fields_i, tems, hits)
        assert record == bytes(buf[offsets[i] : offsets[i] + lengths[i]])


def _corrupt(buf: np.ndarray, pos: int, value: int) -> np.ndarray:
    out = buf.copy()
    out[pos] = value
    return out


@pytest.mark.parametrize(
    ("where", "value", "code", "rel"),
    [
        (0, 0x11, 2, 0),  # identity word
        (96 + 2, 0x7F, 5, 96),  # GEM length byte
        (96, 2, 6, 96),  # first contribution is not a GEM
        (96 + 68, 9, 7, 96 + 68),  # unknown contribution type
        (96 + 68 + 12, 30, 11, 96 + 68 + 12),  # strip layer 30
        (89, 9, 13, 88),  # number of contributions
    ],
)
def test_malformed_records_name_offset_and_reason(where: int, value: int, code: int, rel: int) -> None:
    events = _random_events(5, seed=4)
    buf, offsets, lengths = encode_events(events)
    i = 2
    first_tem = int(offsets[i]) + 96 + 68
    assert buf[first_tem] == 2 and buf[first_tem + 9] > 0  # event 2: a TEM with strips after the GEM
    bad = _corrupt(buf, int(offsets[i]) + where, value)
    with pytest.raises(DigiError, match=rf"run 7: event record 2 at byte offset {offsets[i] + rel}:") as exc:
        decode_events(bad, offsets, lengths, source="run 7")
    assert exc.value.code == code
    # the reference finds the same fault at the same place
    status, fault, *_ = ref.decode_records(bad, offsets, lengths)
    assert status[i] == code and fault[i] == rel
    flagged = decode_events(bad, offsets, lengths, errors="flag")
    assert flagged.status.tolist() == [0, 0, code, 0, 0]
    assert flagged.tkr_ptr[3] == flagged.tkr_ptr[2]  # the bad event has no hits
    assert np.array_equal(
        flagged.header["gem_sequence"][[0, 1, 3, 4]], events.header["gem_sequence"][[0, 1, 3, 4]]
    )


def test_record_outside_buffer_and_truncated() -> None:
    events = _random_events(3)
    buf, offsets, lengths = encode_events(events)
    with pytest.raises(DigiError, match="outside the buffer"):
        decode_events(buf, offsets, lengths + 10_000)
    with pytest.raises(DigiError, match="event length field differs"):
        decode_events(buf, offsets, lengths - 4)
    with pytest.raises(DigiError, match="shorter than the 96-byte"):
        decode_events(buf, offsets, np.minimum(lengths, 40))


def test_derived_energies() -> None:
    events = _random_events(10)
    buf, offsets, lengths = encode_events(events)
    back = decode_events(buf, offsets, lengths)
    assert back.cal_event.shape == back.cal_energy.shape
    assert np.array_equal(np.diff(back.cal_ptr), np.bincount(back.cal_event, minlength=10))
    both = (back.cal_adc_pos > 0) & (back.cal_adc_neg > 0)
    assert np.allclose(back.cal_energy[both] ** 2, (back.cal_energy_pos * back.cal_energy_neg)[both])
    assert np.all(back.acd_energy >= 0)


def test_event_time_rules() -> None:
    h = {
        "tone_seconds": np.array([1000, 1000, 1000, 1000], dtype=np.uint32),
        "prev_tone_seconds": np.array([999, 999, 998, 999], dtype=np.uint32),
        "tone_ticks": np.array([100, 100, 100, 100], dtype=np.uint32),
        "prev_tone_ticks": np.array([(100 - 19_999_000) % 2**25] * 4, dtype=np.uint32),
        "trigger_ticks": np.array([100 + 9_999_500, 100 + 10_000_000, 100 + 10_000_000, 50], dtype=np.uint32),
        "tone_flags": np.array([0, 4, 0, 0], dtype=np.uint8),
        "prev_tone_flags": np.zeros(4, dtype=np.uint8),
    }
    t = event_time(h)
    assert t[0] == pytest.approx(1000.5, abs=1e-12)  # measured 19,999,000 ticks per second
    assert t[1] == 1000.5  # MISSING_LAT_PPS: nominal 20 MHz
    assert t[2] == 1000.5  # tones not one second apart: nominal
    assert t[3] == pytest.approx(1000 + ((50 - 100) % 2**25) / 19_999_000)  # tick counter wrapped


def test_decodes_records_written_by_fermi_halfpipe() -> None:
    from fermi_halfpipe.synthetic import make_events as halfpipe_events

    rng = np.random.default_rng(0)
    records, lengths, header = halfpipe_events(rng, 100)
    offsets = np.cumsum(lengths) - lengths
    # read-only, as a memory-mapped merged file delivers it
    buf = np.frombuffer(np.asarray(records, dtype=np.uint8).tobytes(), dtype=np.uint8)
    events = decode_events(buf, offsets, lengths, source="halfpipe synthetic run")
    assert np.all(events.status == 0)
    assert np.array_equal(events.header["gem_sequence"], header["gem_seq"].astype(np.uint64))
    assert np.array_equal(events.header["trigger_ticks"], header["trigger_ticks"].astype(np.uint32))
    assert np.all(events.tkr_plane <= 17) and np.all(events.cal_layer <= 7)
