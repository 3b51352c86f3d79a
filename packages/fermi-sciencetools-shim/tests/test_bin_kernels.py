"""gtbin binners and their numba kernels: half-open [lo, hi) rules, kernels == numpy twins."""

import numpy as np
import pytest

from fermi_sciencetools_shim.bin import _kernels, _reference
from fermi_sciencetools_shim.bin.binners import Binner, read_bin_file
from fermi_sciencetools_shim.errors import InputFileError, ParameterError


@pytest.fixture
def values():
    rng = np.random.default_rng(7)
    v = rng.uniform(-5.0, 120.0, 500)
    # put values exactly on edges so the half-open rule is exercised
    return np.concatenate([v, [0.0, 10.0, 100.0, 99.999999, 50.0]])


def test_linear_kernel_matches_reference(values):
    got = _kernels.linear_index(values, 0.0, 100.0, 7.0)
    np.testing.assert_array_equal(got, _reference.linear_index(values, 0.0, 100.0, 7.0))


def test_log_kernel_matches_reference():
    e = np.geomspace(10.0, 3e5, 2000)
    e = np.concatenate([e, [30.0, 2e5, 29.999]])
    np.testing.assert_array_equal(
        _kernels.log_index(e, 30.0, 2e5, 17), _reference.log_index(e, 30.0, 2e5, 17)
    )


def test_interval_kernel_matches_reference(values):
    lo = np.array([0.0, 10.0, 40.0, 41.0])
    hi = np.array([10.0, 20.0, 41.0, 90.0])
    np.testing.assert_array_equal(
        _kernels.interval_index(values, lo, hi), _reference.interval_index(values, lo, hi)
    )


def test_count_kernel_matches_reference():
    rng = np.random.default_rng(3)
    ix, iy, iz = (rng.integers(-1, n + 1, 1000) for n in (5, 4, 3))
    np.testing.assert_array_equal(
        _kernels.count_3d(ix, iy, iz, 5, 4, 3), _reference.count_3d(ix, iy, iz, 5, 4, 3)
    )
    assert _kernels.count_3d(ix, iy, iz, 5, 4, 3).sum() == np.sum(
        (ix >= 0) & (ix < 5) & (iy >= 0) & (iy < 4) & (iz >= 0) & (iz < 3)
    )


def test_linear_bins_are_half_open_and_last_is_truncated():
    b = Binner.linear(0.0, 10.0, 3.0)
    assert b.nbins == 4
    np.testing.assert_allclose(b.hi, [3.0, 6.0, 9.0, 10.0])
    np.testing.assert_array_equal(b.index(np.array([0.0, 2.999, 3.0, 9.5, 10.0, -0.1])), [0, 0, 1, 3, -1, -1])


def test_log_bins_edges_and_limits():
    b = Binner.log(100.0, 1e5, 3)
    np.testing.assert_allclose(b.lo, [100.0, 1000.0, 1e4])
    assert b.lo[0] == 100.0 and b.hi[-1] == 1e5
    # an event at exactly emax is not binned, one at exactly emin is
    np.testing.assert_array_equal(b.index(np.array([100.0, 1e5, 999.0, 1001.0])), [0, -1, 0, 1])


def test_bad_binner_parameters_name_the_parameter():
    with pytest.raises(ParameterError, match="denergy"):
        Binner.linear(0.0, 10.0, 0.0, name="denergy")
    with pytest.raises(ParameterError, match="enumbins"):
        Binner.log(0.0, 10.0, 3)
    with pytest.raises(ParameterError, match="ordered"):
        Binner.intervals(np.array([0.0, 5.0]), np.array([6.0, 8.0]))


def test_energy_bin_file_is_read_in_kev(tmp_path):
    from astropy.io import fits

    path = tmp_path / "ebins.fits"
    cols = [fits.Column("E_MIN", "D", array=[1e5, 1e6]), fits.Column("E_MAX", "D", array=[1e6, 2e6])]
    hdu = fits.BinTableHDU.from_columns(cols, name="ENERGYBINS")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    b = read_bin_file(path, "energy")
    np.testing.assert_allclose(b.lo, [100.0, 1000.0])
    np.testing.assert_array_equal(b.index(np.array([150.0, 1000.0, 2000.0])), [0, 1, -1])
    with pytest.raises(InputFileError, match="TIMEBINS"):
        read_bin_file(path, "time")
