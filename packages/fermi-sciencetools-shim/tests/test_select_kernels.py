"""The gtselect cone kernel against its plain-numpy twin and known separations."""

from __future__ import annotations

import numpy as np
import pytest

from fermi_sciencetools_shim.select import _kernels, _reference


def _sky(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return ra, dec


@pytest.mark.parametrize(("ra0", "dec0"), [(83.6324, 22.0174), (0.0, 89.9), (359.5, -45.0)])
def test_kernel_matches_reference(ra0, dec0):
    ra, dec = _sky(2000, seed=int(ra0))
    got = _kernels.angular_separation(ra, dec, ra0, dec0)
    want = _reference.angular_separation(ra, dec, ra0, dec0)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    for radius in (1.0, 30.0, 120.0):
        near_edge = np.abs(want - radius) < 1e-9
        np.testing.assert_array_equal(
            _kernels.cone_mask(ra, dec, ra0, dec0, radius)[~near_edge],
            _reference.cone_mask(ra, dec, ra0, dec0, radius)[~near_edge],
        )


def test_known_separations():
    ra = np.array([0.0, 180.0, 10.0, 10.0 + 1 / 3.6e6])
    dec = np.array([90.0, 0.0, 20.0, 20.0])
    got = _kernels.angular_separation(ra, dec, 0.0, 0.0)
    np.testing.assert_allclose(got[:2], [90.0, 180.0], atol=1e-9)
    # Haversine keeps one milliarcsecond accurate where the law of cosines would not.
    tiny = _kernels.angular_separation(ra[3:], dec[3:], 10.0, 20.0)[0]
    assert tiny == pytest.approx(np.cos(np.radians(20.0)) / 3.6e6, rel=1e-6)


def test_cone_mask_is_strict():
    ra = np.array([12.0, 11.5])
    dec = np.array([0.0, 0.0])
    radius = float(_reference.angular_separation(ra[:1], dec[:1], 10.0, 0.0)[0])
    assert _kernels.cone_mask(ra, dec, 10.0, 0.0, radius).tolist() == [False, True]
    assert _kernels.cone_mask(np.empty(0), np.empty(0), 10.0, 0.0, 1.0).shape == (0,)
