"""GTI algebra with the ScienceTools rules (touching intervals merge on union, not on intersection)."""

import numpy as np
import pytest

from fermi_sciencetools_shim.gti import Gti, consolidate, intersection, union


def test_consolidate_merges_touching_and_overlapping():
    g = consolidate(np.array([10.0, 0.0, 5.0, 20.0, 20.0]), np.array([12.0, 5.0, 8.0, 21.0, 25.0]))
    np.testing.assert_array_equal(g.start, [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(g.stop, [8.0, 12.0, 25.0])
    assert g.ontime == pytest.approx(8 + 2 + 5)


def test_intersection_of_touching_intervals_is_empty():
    a = Gti(np.array([0.0]), np.array([5.0]))
    b = Gti(np.array([5.0]), np.array([9.0]))
    assert len(intersection(a, b)) == 0
    assert len(union(a, b)) == 1


def test_intersection_sweep():
    a = Gti(np.array([0.0, 10.0]), np.array([6.0, 20.0]))
    b = Gti(np.array([4.0, 12.0]), np.array([11.0, 13.0]))
    g = intersection(a, b)
    np.testing.assert_array_equal(g.start, [4.0, 10.0, 12.0])
    np.testing.assert_array_equal(g.stop, [6.0, 11.0, 13.0])


def test_contains_is_closed_on_both_ends():
    g = Gti(np.array([0.0, 10.0]), np.array([5.0, 20.0]))
    mask = g.contains(np.array([-1.0, 0.0, 5.0, 7.0, 10.0, 20.0, 20.5]))
    assert mask.tolist() == [False, True, True, False, True, True, False]


def test_overlap_fraction_of_ft2_rows():
    g = Gti(np.array([0.0, 40.0]), np.array([15.0, 100.0]))
    frac = g.overlap_fraction(np.array([0.0, 30.0, 100.0, 50.0]), np.array([30.0, 60.0, 130.0, 50.0]))
    np.testing.assert_allclose(frac, [0.5, 20 / 30, 0.0, 0.0])


def _loop_intersection(a: Gti, b: Gti) -> Gti:
    """Plain sweep (evtbin Gti ``&``) used as the reference of the vectorised intersection."""
    out_start, out_stop = [], []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a.start[i], b.start[j]), min(a.stop[i], b.stop[j])
        if lo < hi:
            out_start.append(lo)
            out_stop.append(hi)
        if a.stop[i] < b.stop[j]:
            i += 1
        else:
            j += 1
    return consolidate(np.array(out_start), np.array(out_stop))


def test_vectorised_intersection_matches_the_sweep():
    rng = np.random.default_rng(11)
    for _ in range(30):
        # integer-valued edges so that touching intervals and equal edges occur often
        a = consolidate(*np.sort(rng.integers(0, 200, size=(2, 25)).astype(float), axis=0))
        b = consolidate(*np.sort(rng.integers(0, 200, size=(2, 25)).astype(float), axis=0))
        got, ref = intersection(a, b), _loop_intersection(a, b)
        np.testing.assert_array_equal(got.start, ref.start)
        np.testing.assert_array_equal(got.stop, ref.stop)
    assert len(intersection(Gti.empty(), b)) == 0
