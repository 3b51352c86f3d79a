"""DSS keywords: read in index order, rewrite preserving order; time keywords."""

from __future__ import annotations

import pytest
from astropy.io import fits

from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io import DssKey, read_dss, write_dss
from fermi_sciencetools_shim.io.headers import set_date, set_ontime, update_time_keywords


@pytest.mark.requires_data
def test_dss_round_trip_keeps_the_real_order(shared_data):
    header = fits.getheader(shared_data / "gammapy_tests_fermi/ft1_00.fits", "EVENTS")
    keys = read_dss(header)
    assert [k.type for k in keys] == [
        "BIT_MASK(EVENT_CLASS,2048,P8R3)",
        "POS(RA,DEC)",
        "TIME",
        "BIT_MASK(EVENT_TYPE,4,P8R3)",
        "ENERGY",
        "ZENITH_ANGLE",
    ]
    assert keys[2] == DssKey("TIME", "s", "TABLE", ":GTI")
    assert keys[1].value == "CIRCLE(83.6324,22.0174,1)"
    assert keys[4].value == "398107.17055349692237:2511886.4315095823258"
    copy = header.copy()
    write_dss(copy, keys)
    assert read_dss(copy) == keys
    ds_cards = [k for k in copy if k.startswith("DS") or k == "NDSKEYS"]
    assert ds_cards == [k for k in header if k.startswith("DS") or k == "NDSKEYS"]
    assert copy["NDSKEYS"] == 6


def test_write_dss_replaces_old_keys():
    header = fits.Header()
    write_dss(header, [DssKey("ENERGY", "MeV", "100:1000"), DssKey("TIME", "s", "TABLE", ":GTI")])
    write_dss(header, [DssKey("ZENITH_ANGLE", "deg", "0:90")])
    assert read_dss(header) == [DssKey("ZENITH_ANGLE", "deg", "0:90")]
    assert "DSTYP2" not in header and "DSREF2" not in header and header["NDSKEYS"] == 1


def test_time_keywords():
    header = fits.Header([("TSTART", 0.0), ("TSTOP", 0.0), ("TELAPSE", 0.0)])
    update_time_keywords(header, 239557417.0, 752112005.0)
    assert header["DATE-OBS"] == "2008-08-04T15:43:36.0000"
    assert header["DATE-END"] == "2024-11-01T00:00:00.0000"
    assert header["TELAPSE"] == 752112005.0 - 239557417.0
    set_ontime(header, Gti.from_intervals([0.0, 10.0], [5.0, 12.5]))
    assert header["ONTIME"] == 7.5
    set_date(header)
    assert len(header["DATE"]) == 19 and header["DATE"][10] == "T"
