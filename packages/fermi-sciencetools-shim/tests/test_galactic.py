"""Equatorial -> Galactic rotation of gtbin (astro::SkyDir matrix, both angle sets)."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from fermi_sciencetools_shim.bin.galactic import (
    equatorial_to_galactic,
    galactic_to_equatorial,
    rotation_matrix,
)


@pytest.fixture
def directions():
    rng = np.random.default_rng(11)
    ra = rng.uniform(0.0, 360.0, 300)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, 300)))
    return ra, dec


def _dlon(a, b):
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


def test_current_angles_equal_astropy_fk5_to_galactic(directions):
    ra, dec = directions
    gal = SkyCoord(ra * u.deg, dec * u.deg, frame="fk5").galactic
    lon, lat = equatorial_to_galactic(ra, dec)
    assert np.max(_dlon(lon, gal.l.deg) * np.cos(np.radians(lat))) < 1e-9
    assert np.max(np.abs(lat - gal.b.deg)) < 1e-9


def test_pre2016_angles_differ_by_a_few_arcsec(directions):
    ra, dec = directions
    lon1, lat1 = equatorial_to_galactic(ra, dec, "current")
    lon2, lat2 = equatorial_to_galactic(ra, dec, "pre2016")
    sep = np.hypot(_dlon(lon1, lon2) * np.cos(np.radians(lat1)), lat1 - lat2)
    assert 1e-4 < np.max(sep) < 2e-3


def test_galactic_centre_and_inverse(directions):
    lon, lat = equatorial_to_galactic(266.40498829, -28.93617776)
    assert _dlon(lon, 0.0) < 1e-5 and abs(lat) < 1e-5
    ra, dec = directions
    back_ra, _ = galactic_to_equatorial(*equatorial_to_galactic(ra, dec, "pre2016"), "pre2016")
    assert np.max(_dlon(back_ra, ra) * np.cos(np.radians(dec))) < 1e-10
    np.testing.assert_allclose(rotation_matrix() @ rotation_matrix().T, np.eye(3), atol=1e-14)


def test_unknown_rotation_is_refused():
    with pytest.raises(ValueError, match="galactic rotation"):
        rotation_matrix("1950")
