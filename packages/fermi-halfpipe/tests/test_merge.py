"""Merge kernel vs the numpy reference; duplicates, gaps and counter unrolling."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fermi_halfpipe import _kernels, _reference
from fermi_halfpipe.merge import merge_streams, nearest_unroll, unroll_counter

seqs = st.lists(st.integers(0, 2**40), max_size=60, unique=True).map(
    lambda v: np.array(sorted(v), dtype=np.uint64)
)


@settings(max_examples=50, deadline=None)
@given(seqs, seqs)
def test_kernel_equals_concatenate_plus_stable_argsort(a, b):
    ka, _ = _kernels.merge_order(a, b)
    ra, _ = _reference.merge_order(a, b)
    assert np.array_equal(ka, ra)
    m = merge_streams(a, b)
    assert np.array_equal(m.gem_seq, np.unique(np.concatenate([a, b])))
    # every input is either kept or reported as a duplicate
    assert sorted(np.concatenate([m.order, m.duplicate]).tolist()) == list(range(a.size + b.size))


def test_duplicate_across_epus_is_reported_and_kept_once():
    m = merge_streams(np.array([1, 5, 9], np.uint64), np.array([2, 5, 12], np.uint64))
    assert m.gem_seq.tolist() == [1, 2, 5, 9, 12]
    assert m.duplicate.tolist() == [4]  # index of the second 5 in [a, b]
    assert list(zip(m.gap_before.tolist(), m.gap_after.tolist(), strict=True)) == [(2, 5), (5, 9), (9, 12)]
    assert m.missing == 2 + 3 + 2


def test_stream_not_increasing_is_an_error_naming_stream_and_index():
    with pytest.raises(ValueError, match=r"stream b: GEM sequence not increasing at index 2 \(7 then 3\)"):
        merge_streams(np.array([1], np.uint64), np.array([2, 7, 3], np.uint64))


def test_gather_copies_aligned_records_in_the_order_given():
    buf = np.arange(64, dtype=np.uint8)
    off = np.array([0, 16, 40, 8], np.int64)  # a record order as a merge gives it
    ln = np.array([8, 24, 4, 8], np.int64)
    outs = []
    for f in (_kernels.gather_records, _reference.gather_records):
        out = np.zeros(44, np.uint8)
        out_off = f(buf, off, ln, out)
        assert out_off.tolist() == [0, 8, 32, 36]
        outs.append(out)
    assert np.array_equal(outs[0], outs[1])
    assert outs[0].tolist() == [*range(0, 8), *range(16, 40), *range(40, 44), *range(8, 16)]


def test_gather_copies_unaligned_records_in_the_order_given():
    buf = np.arange(20, dtype=np.uint8)
    off = np.array([0, 10, 4, 12], np.int64)
    ln = np.array([4, 2, 6, 8], np.int64)
    for f in (_kernels.gather_records, _reference.gather_records):
        out = np.zeros(20, np.uint8)
        out_off = f(buf, off, ln, out)
        assert out.tolist() == [0, 1, 2, 3, 10, 11, 4, 5, 6, 7, 8, 9, *range(12, 20)]
        assert out_off.tolist() == [0, 4, 6, 12]


def test_the_production_gather_gives_the_same_bytes_with_either_engine():
    from fermi_halfpipe.release import gather_records

    rng = np.random.default_rng(3)
    ln = rng.integers(1, 40, 300).astype(np.int64) * 4
    buf = rng.integers(0, 256, int(ln.sum()), dtype=np.uint8)
    perm = rng.permutation(ln.size)
    off, lens = (np.cumsum(ln) - ln)[perm], ln[perm]
    for lengths in (lens, lens - 1):  # word-aligned, and not
        a, a_off = gather_records(buf, off, lengths, engine="numba")
        b, b_off = gather_records(buf, off, lengths, engine="reference")
        assert np.array_equal(a, b) and np.array_equal(a_off, b_off) and a.size == lengths.sum()
    with pytest.raises(ValueError, match="parameter 'engine'"):
        gather_records(buf, off, lens, engine="fast")


def test_17_bit_event_counter_unrolls_to_the_gem_sequence():
    gem = np.cumsum(np.random.default_rng(2).integers(1, 9000, 200)) + 123_456
    raw = gem & 0x1FFFF
    assert np.array_equal(unroll_counter(raw, 17, anchor=int(gem[0])), gem)
    assert np.array_equal(unroll_counter(raw, 17, anchor=int(gem[0]), engine="reference"), gem)


def test_20_bit_datagram_counter_unrolls_past_the_wrap():
    seq = np.arange(1_048_570, 1_048_590)
    assert np.array_equal(unroll_counter(seq % (1 << 20), 20, anchor=1_048_570), seq)
    assert nearest_unroll(3, 20, 1_048_575) == 1_048_579
    assert nearest_unroll(1_048_570, 20, 1_048_579) == 1_048_570


def test_anchor_must_agree_with_first_value():
    with pytest.raises(ValueError, match="parameter 'anchor'"):
        unroll_counter(np.array([5]), 20, anchor=6)
