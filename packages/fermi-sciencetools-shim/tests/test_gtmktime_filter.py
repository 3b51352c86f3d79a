"""The gtmktime filter language: parsing, evaluation and error positions."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from fermi_sciencetools_shim.errors import ParameterError
from fermi_sciencetools_shim.mktime import parse_filter
from fermi_sciencetools_shim.mktime.filter_expr import angsep

COLS = {
    "DATA_QUAL": np.array([1, 0, 2, -1, 1]),
    "LAT_CONFIG": np.array([1, 1, 1, 1, 0]),
    "ROCK_ANGLE": np.array([50.0, -60.0, -51.9, 10.0, 52.0]),
    "LIVETIME": np.array([27.0, 0.0, 30.0, 1.5, 0.0]),
    "IN_SAA": np.array([False, False, True, False, False]),
    "SC_POSITION": np.arange(15.0).reshape(5, 3),
}


def run(text):
    return parse_filter(text).evaluate(COLS, 5).tolist()


def test_recommended_filters():
    assert run("DATA_QUAL>0 && LAT_CONFIG==1") == [True, False, True, False, False]
    assert run("(DATA_QUAL>0)&&(LAT_CONFIG==1)&&ABS(ROCK_ANGLE)<52") == [True, False, True, False, False]
    assert run("DATA_QUAL>0 .and. LAT_CONFIG.eq.1 .and. abs(rock_angle) .lt. 52") == [
        True, False, True, False, False
    ]  # fmt: skip
    assert run("LIVETIME>0") == [True, False, True, True, False]
    assert run("IN_SAA!=T") == [True, True, False, True, True]
    assert run("!IN_SAA && !(DATA_QUAL<=0)") == [True, False, False, False, True]


def test_precedence_and_arithmetic():
    assert run("DATA_QUAL==1 || LAT_CONFIG==0 && LIVETIME>100") == [True, False, False, False, True]
    assert run("LIVETIME/2 + 1 >= 14.5") == [True, False, True, False, False]
    assert run("-ROCK_ANGLE > 50") == [False, True, True, False, False]
    assert run("DATA_QUAL*3 % 2 == 1") == [True, False, False, False, True]  # C: -3 % 2 == -1
    assert run("7/2 == 3") == [True] * 5  # integer division truncates, as in C
    assert run("-7/2 == -3 && -7 % 2 == -1") == [True] * 5
    assert run("(DATA_QUAL & o3) != o0") == [True, False, True, True, True]
    assert run("(LAT_CONFIG | 0x2) == 3") == [True, True, True, True, False]
    assert run("SC_POSITION[2] > 6") == [False, False, True, True, True]
    assert run("1.5e1 < LIVETIME") == [True, False, True, False, False]


def test_angsep_matches_astropy():
    rng = np.random.default_rng(3)
    ra1, ra2 = rng.uniform(0, 360, 50), rng.uniform(0, 360, 50)
    dec1, dec2 = rng.uniform(-90, 90, 50), rng.uniform(-90, 90, 50)
    ours = angsep(ra1, dec1, ra2, dec2)
    ref = SkyCoord(ra1, dec1, unit="deg").separation(SkyCoord(ra2, dec2, unit="deg")).deg
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    cols = {"RA_ZENITH": ra1, "DEC_ZENITH": dec1}
    mask = parse_filter("angsep(RA_ZENITH,DEC_ZENITH,83.63,22.01) < 75").evaluate(cols, 50)
    np.testing.assert_array_equal(mask, angsep(ra1, dec1, 83.63, 22.01) < 75)


def test_columns_listed_in_order():
    assert parse_filter("DATA_QUAL>0 && lat_config==1 && ABS(ROCK_ANGLE)<52 && DATA_QUAL<9").columns == [
        "DATA_QUAL",
        "LAT_CONFIG",
        "ROCK_ANGLE",
    ]


@pytest.mark.parametrize(
    "text, position, reason",
    [
        ("DATA_QUAL>0 &&& LAT_CONFIG==1", 15, "expected a value"),
        ("DATA_QUAL>0 && (LAT_CONFIG==1", 30, r"expected '\)'"),
        ("DATA_QUAL>0 $ 1", 13, "unexpected character"),
        ("DATA_QUAL>0 1", 13, "unexpected '1'"),
        ("FOO(DATA_QUAL)", 1, "unknown function"),
        ("ANGSEP(1,2,3) < 1", 1, "takes 4 argument"),
        ("", 1, "empty expression"),
        ("SC_POSITION[0] > 1", 13, "positive integer"),
    ],
)
def test_malformed_filters_name_the_position(text, position, reason):
    with pytest.raises(ParameterError, match=reason) as info:
        parse_filter(text)
    assert info.value.name == "filter"
    assert f"at position {position} " in str(info.value)


def test_unknown_column_position():
    expr = parse_filter("DATA_QUAL>0 && LAT_CONFG==1")
    with pytest.raises(ParameterError, match=r"unknown column 'LAT_CONFG'.*at position 16"):
        expr.check_columns(COLS)
    with pytest.raises(ParameterError, match="vector"):
        parse_filter("SC_POSITION > 1").evaluate(COLS, 5)
    with pytest.raises(ParameterError, match="true/false"):
        parse_filter("LIVETIME + 1").evaluate(COLS, 5)
