"""The SAA polygon is the LAT's (FSSC L_SAA_2008198.03) and the inside test is right."""

import numpy as np
import pytest

from fermi_core.mission.saa import LAT_SAA_2008198, SaaPolygon, points_in_polygon, polygon_for


def test_polygon_vertices_are_the_fssc_ones_with_positive_northern_latitudes():
    assert LAT_SAA_2008198.lat_deg == (-30.0, -22.6, 2.5, 5.2, 5.2, 4.6, 0.7, -8.6, -9.9, -12.5, -21.7, -30.0)
    assert LAT_SAA_2008198.lon_deg == (
        33.9,
        24.5,
        -18.6,
        -25.7,
        -36.0,
        -42.0,
        -58.8,
        -93.1,
        -97.5,
        -98.5,
        -92.1,
        -86.1,
    )
    # vertices 3-7 (1-based) are north of the equator; a public copy has the signs flipped
    assert all(lat > 0 for lat in LAT_SAA_2008198.lat_deg[2:7])


def test_points_inside_and_outside():
    # Centre of the anomaly over Brazil/South Atlantic, Rio, Cape Town, Greenwich, Pacific
    lat = np.array([-15.0, -22.9, -33.9, 51.5, -10.0, 3.0])
    lon = np.array([-50.0, -43.2, 18.4, 0.0, -150.0, -30.0])
    assert LAT_SAA_2008198.contains(lat, lon).tolist() == [True, True, False, False, False, True]


def test_longitudes_are_wrapped():
    assert LAT_SAA_2008198.contains(-15.0, 310.0)  # 310 E == 50 W


def test_even_odd_rule_on_a_square():
    inside = points_in_polygon(
        np.array([0.5, 1.5, 0.5]),
        np.array([0.5, 0.5, -0.1]),
        np.array([0, 0, 1, 1.0]),
        np.array([0, 1, 1, 0.0]),
    )
    assert inside.tolist() == [True, False, False]


def test_bad_polygon_is_refused_with_its_name():
    with pytest.raises(ValueError, match="broken: 3 latitudes but 2 longitudes"):
        SaaPolygon("broken", "2020-01-01", "test", (0.0, 1.0, 2.0), (0.0, 1.0))


def test_polygon_for_a_date_before_the_first_version_is_an_error():
    assert polygon_for("2014-08-07") is LAT_SAA_2008198
    with pytest.raises(ValueError, match="no SAA polygon valid on 2008-06-01"):
        polygon_for("2008-06-01")
