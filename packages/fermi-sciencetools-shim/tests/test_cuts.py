"""gtselect cut objects and their bookkeeping: filter text, DSS text, add/supersede/merge rules."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.select import (
    BitMaskCut,
    ConeCut,
    DssError,
    GtiCut,
    RangeCut,
    Selection,
    VersionCut,
)

# The gtselect line printed by the real tool for gammapy-data tests/fermi ft1_00 (out.log).
OUT_LOG_FILTER = (
    "((EVENT_CLASS&o4000) != o0) && angsep(RA,DEC,83.6324,22.0174) < 1 && ((EVENT_TYPE&o4) != o0) "
    "&& 398107.17055349692237 < ENERGY && ENERGY <= 2511886.4315095823258 && 239557417 < TIME "
    "&& TIME <= 752112005 && 0 < ZENITH_ANGLE && ZENITH_ANGLE <= 105 && gtifilter()"
)
# DSS keywords of ft1_00.fits as written by that gtselect run.
FT1_00_DSS = [
    ("BIT_MASK(EVENT_CLASS,2048,P8R3)", "DIMENSIONLESS", "1:1", None),
    ("POS(RA,DEC)", "deg", "CIRCLE(83.6324,22.0174,1)", None),
    ("TIME", "s", "TABLE", ":GTI"),
    ("BIT_MASK(EVENT_TYPE,4,P8R3)", "DIMENSIONLESS", "1:1", None),
    ("ENERGY", "MeV", "398107.17055349692237:2511886.4315095823258", None),
    ("ZENITH_ANGLE", "deg", "0:105", None),
]
GTI = Gti.from_intervals([239557417.0, 239600000.0], [239560000.0, 239700000.0])


def keys(fields):
    return [SimpleNamespace(type=t, unit=u, value=v, ref=r) for t, u, v, r in fields]


def add_out_log_user_cuts(selection: Selection, evtype: int = 4) -> None:
    """The cuts gtselect adds for the out.log command line, in the tool's order."""
    selection.add(ConeCut(83.6324, 22.01740000000001, 1.9142135623730951))
    selection.add(RangeCut("TIME", "s", 239557417.0, 752112005.0))
    selection.add(RangeCut("ENERGY", "MeV", 398107.1705534969, 2511886.4315095823))
    selection.add(BitMaskCut("EVENT_CLASS", 2048, "P8R3"))
    selection.add(BitMaskCut("EVENT_TYPE", evtype, "P8R3"))
    selection.add(RangeCut("ZENITH_ANGLE", "deg", 0.0, 105.0))
    selection.merge_range_cuts()


# ---------------------------------------------------------------- range cuts


def test_range_filter_text_is_half_open_with_20_digit_numbers():
    cut = RangeCut("ENERGY", "MeV", 398107.1705534969, 2511886.4315095823)
    assert cut.filter_string() == "398107.17055349692237 < ENERGY && ENERGY <= 2511886.4315095823258"
    assert cut.dss_fields() == ("ENERGY", "MeV", "398107.17055349692237:2511886.4315095823258", None)


def test_range_with_equal_bounds_is_closed_and_open_forms_print_one_side():
    assert RangeCut("CONVERSION_TYPE", "dimensionless", 1, 1).filter_string() == (
        "1 <= CONVERSION_TYPE && CONVERSION_TYPE <= 1"
    )
    assert RangeCut("ENERGY", "MeV", 100, None).filter_string() == "100 < ENERGY"
    assert RangeCut("ENERGY", "MeV", None, 1000).filter_string() == "ENERGY <= 1000"
    assert RangeCut("ENERGY", "MeV", 100, None).dss_fields()[2] == "100:"
    assert RangeCut("ENERGY", "MeV", None, 1000).dss_fields()[2] == ":1000"


def test_vector_column_range_uses_the_1_based_element():
    cut = RangeCut.from_dss("CALIB_VERSION[1]", "dimensionless", "0:2")
    assert (cut.column, cut.index) == ("CALIB_VERSION", 1)
    assert cut.filter_string() == "0 < CALIB_VERSION[1] && CALIB_VERSION[1] <= 2"
    assert cut.dss_fields()[0] == "CALIB_VERSION[1]"
    calib = np.array([[1, 0, 0], [0, 5, 5], [3, 1, 1]], dtype=np.int16)
    assert cut.accept({"CALIB_VERSION": calib}).tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("100:100000", 100.0, 100000.0), (":90", None, 90.0), ("0.5:", 0.5, None)],
)
def test_range_parsed_from_dss_forms(text, low, high):
    cut = RangeCut.from_dss("ENERGY", "MeV", text)
    assert (cut.min, cut.max) == (low, high)
    assert cut.dss_fields()[2] == text


def test_range_accept_excludes_the_minimum_and_promotes_float32_to_double():
    cut = RangeCut("ZENITH_ANGLE", "deg", 0.0, 105.0)
    zenith = np.array([0.0, 1e-30, 105.0, np.nextafter(np.float32(105), np.float32(200))], dtype=np.float32)
    assert cut.accept({"ZENITH_ANGLE": zenith}).tolist() == [False, True, True, False]
    # float32(0.1) is 0.10000000149 in double: above a double 0.1 maximum.
    cut = RangeCut("PULSE_PHASE", "dimensionless", 0.0, 0.1)
    assert cut.accept({"PULSE_PHASE": np.array([0.1], dtype=np.float32)}).tolist() == [False]
    equal = RangeCut("CONVERSION_TYPE", "dimensionless", 0, 0)
    assert equal.accept({"CONVERSION_TYPE": np.array([0, 1], dtype=np.int16)}).tolist() == [True, False]


def test_range_supersedes_only_the_same_column_and_interval_type():
    inner = RangeCut("ENERGY", "MeV", 200, 1000)
    outer = RangeCut("ENERGY", "MeV", 100, 10000)
    assert inner.supersedes(outer) and not outer.supersedes(inner)
    assert not inner.supersedes(RangeCut("ZENITH_ANGLE", "deg", 100, 10000))
    assert not inner.supersedes(RangeCut("ENERGY", "MeV", 100, None))
    assert RangeCut("ENERGY", "MeV", 200, None).supersedes(RangeCut("ENERGY", "MeV", 100, None))
    assert not RangeCut("ENERGY", "MeV", 100, 1000).identical(RangeCut("ENERGY", "GeV", 100, 1000))


# ---------------------------------------------------------------- cone


def test_cone_prints_10_significant_digits():
    cone = ConeCut(83.6324, 22.01740000000001, 1.9142135623730951)
    assert cone.filter_string() == "angsep(RA,DEC,83.6324,22.0174) < 1.914213562"
    assert cone.dss_fields() == ("POS(RA,DEC)", "deg", "CIRCLE(83.6324,22.0174,1.914213562)", None)
    assert ConeCut(7.61428534, 4.861029436, 2).dss_fields()[2] == "CIRCLE(7.61428534,4.861029436,2)"
    assert ConeCut(-10, 5, 1).filter_string() == "angsep(RA,DEC,350,5) < 1"


def test_cone_inside_another_supersedes_it_and_disjoint_cones_do_not():
    server = ConeCut.from_dss("POS(RA,DEC)", "deg", "CIRCLE(83.6324,22.0174,1)")
    user = ConeCut(83.6324, 22.01740000000001, 1.9142135623730951)
    assert server.supersedes(user) and not user.supersedes(server)
    far = ConeCut(100.0, 22.0, 1.0)
    assert not far.supersedes(server) and not server.supersedes(far)


def test_cone_from_dss_rejects_other_units():
    with pytest.raises(ValueError, match="unit"):
        ConeCut.from_dss("POS(RA,DEC)", "rad", "CIRCLE(1,2,3)")


def test_cone_accept_is_strict_and_uses_the_printed_centre():
    cone = ConeCut(10.0, 0.0, 2.0)
    ra = np.array([10.0, 12.0, 11.999, 8.0, 10.0], dtype=np.float32)
    dec = np.array([0.0, 0.0, 0.0, 0.0, 2.5], dtype=np.float32)
    assert cone.accept({"RA": ra, "DEC": dec}).tolist() == [True, False, True, False, False]
    # A centre given with more digits than printed is applied as printed (10 digits).
    fine = ConeCut(10.00000000004, 0.0, 1.0)
    assert fine.accept({"RA": np.array([11.0]), "DEC": np.array([0.0])}).tolist() == [False]


# ---------------------------------------------------------------- bit masks


def test_bitmask_filter_and_dss_text_pass8():
    cut = BitMaskCut.from_dss("BIT_MASK(EVENT_CLASS,2048,P8R3)")
    assert (cut.column, cut.mask, cut.pass_ver) == ("EVENT_CLASS", 2048, "P8R3")
    assert cut.filter_string() == "((EVENT_CLASS&o4000) != o0)"
    assert BitMaskCut("EVENT_CLASS", 128, "P8R2").filter_string() == "((EVENT_CLASS&o200) != o0)"
    assert BitMaskCut("EVENT_TYPE", 8, "P8R3").filter_string() == "((EVENT_TYPE&o10) != o0)"
    assert BitMaskCut("EVENT_TYPE", 3, "P8R2").dss_fields() == (
        "BIT_MASK(EVENT_TYPE,3,P8R2)",
        "DIMENSIONLESS",
        "1:1",
        None,
    )


def test_bitmask_pre_pass8_uses_the_bit_position():
    cut = BitMaskCut.from_dss("BIT_MASK(EVENT_CLASS,2)")
    assert cut.mask == 4 and not cut.post_p7
    assert cut.filter_string() == "((EVENT_CLASS/4)%2 == 1)"
    assert cut.dss_fields()[0] == "BIT_MASK(EVENT_CLASS,2)"
    assert BitMaskCut("EVENT_CLASS", 4, "P7V6").dss_fields()[0] == "BIT_MASK(EVENT_CLASS,2,P7V6)"
    values = np.array([4, 3, 7, 12, 0], dtype=np.int64)
    assert cut.accept({"EVENT_CLASS": values}).tolist() == [True, False, True, True, False]


def test_bitmask_accept_pass8():
    cut = BitMaskCut("EVENT_TYPE", 3, "P8R3")
    values = np.array([1, 2, 4, 5, 0], dtype=np.int64)
    assert cut.accept({"EVENT_TYPE": values}).tolist() == [True, True, False, True, False]
    big = BitMaskCut("EVENT_CLASS", 1 << 31, "P8R3")
    assert big.accept({"EVENT_CLASS": np.array([1 << 31, 1], dtype=np.int64)}).tolist() == [True, False]


def test_bitmask_replacement_rules():
    p8 = BitMaskCut("EVENT_CLASS", 128, "P8R3")
    assert BitMaskCut("EVENT_CLASS", 2048, "P8R3").supersedes(p8)
    assert BitMaskCut("EVENT_CLASS", 64, "P8R3").supersedes(p8)  # replaced, not nested
    assert not BitMaskCut("EVENT_TYPE", 4, "P8R3").supersedes(p8)
    # Pass 7: the larger (tighter, nested) class wins either way round.
    assert BitMaskCut("EVENT_CLASS", 8, "P7V6").supersedes(BitMaskCut("EVENT_CLASS", 4, "P7V6"))
    assert not BitMaskCut("EVENT_CLASS", 4, "P7V6").supersedes(BitMaskCut("EVENT_CLASS", 8, "P7V6"))


# ---------------------------------------------------------------- selection bookkeeping


def test_out_log_filter_string_from_the_output_dss():
    selection = Selection.from_dss(keys(FT1_00_DSS), gti=GTI)
    add_out_log_user_cuts(selection)
    assert selection.filter_string() == OUT_LOG_FILTER
    assert selection.dss_fields() == FT1_00_DSS
    assert selection.messages == []


def test_out_log_filter_string_and_dss_order_from_a_server_file():
    server = [
        ("BIT_MASK(EVENT_CLASS,128,P8R3)", "DIMENSIONLESS", "1:1", None),
        ("POS(RA,DEC)", "deg", "CIRCLE(83.6324,22.0174,1)", None),
        ("TIME", "s", "TABLE", ":GTI"),
        ("TIME", "s", "239557417:752112005", None),
        ("ENERGY", "MeV", "100:10000000", None),
    ]
    selection = Selection.from_dss(keys(server), gti=GTI)
    assert [type(c).__name__ for c in selection] == ["BitMaskCut", "ConeCut", "GtiCut", "RangeCut"]
    add_out_log_user_cuts(selection)
    assert selection.filter_string() == OUT_LOG_FILTER
    assert selection.dss_fields() == FT1_00_DSS  # the order seen in the real ft1_00.fits
    assert selection.messages == [
        "Over writing existing event class selection,\n  BIT_MASK(EVENT_CLASS,128,P8R3)\n"
        "with\n  BIT_MASK(EVENT_CLASS,2048,P8R3)"
    ]


def test_gammalib_p8v2_history_filter_string_from_its_own_cuts():
    dss = [
        ("BIT_MASK(EVENT_CLASS,128,P8R2)", "DIMENSIONLESS", "1:1", None),
        ("BIT_MASK(EVENT_TYPE,3,P8R2)", "DIMENSIONLESS", "1:1", None),
        ("TIME", "s", "TABLE", ":GTI"),
        ("POS(RA,DEC)", "deg", "CIRCLE(83.6331,22.0145,15)", None),
        ("ENERGY", "MeV", "200:20000", None),
        ("ZENITH_ANGLE", "deg", "0:90", None),
    ]
    selection = Selection.from_dss(keys(dss), gti=GTI)
    selection.add(ConeCut(83.6331, 22.0145, 15))
    selection.add(RangeCut("ENERGY", "MeV", 200, 20000))
    selection.add(BitMaskCut("EVENT_CLASS", 128, "P8R2"))
    selection.add(BitMaskCut("EVENT_TYPE", 3, "P8R2"))
    selection.add(RangeCut("ZENITH_ANGLE", "deg", 0, 90))
    selection.merge_range_cuts()
    # The last "Filter string:" HISTORY card of gammalib's p8v2 ft1.fits.gz.
    assert selection.filter_string() == (
        "((EVENT_CLASS&o200) != o0) && ((EVENT_TYPE&o3) != o0) && angsep(RA,DEC,83.6331,22.0145) < 15 "
        "&& 200 < ENERGY && ENERGY <= 20000 && 0 < ZENITH_ANGLE && ZENITH_ANGLE <= 90 && gtifilter()"
    )
    assert selection.dss_fields() == dss


def test_merge_intersects_ranges_per_column_in_alphabetical_order():
    selection = Selection()
    selection.add(RangeCut("ZENITH_ANGLE", "deg", 0, 100))
    selection.add(BitMaskCut("EVENT_TYPE", 3, "P8R3"))
    selection.add(RangeCut("ENERGY", "MeV", 100, 1000))
    selection.add(RangeCut("ENERGY", "MeV", 500, None))
    selection.add(RangeCut("CONVERSION_TYPE", "dimensionless", 0, 0))
    selection.merge_range_cuts()
    assert [c.dss_fields()[:3] for c in selection] == [
        ("BIT_MASK(EVENT_TYPE,3,P8R3)", "DIMENSIONLESS", "1:1"),
        ("CONVERSION_TYPE", "dimensionless", "0:0"),
        ("ENERGY", "MeV", "500:1000"),
        ("ZENITH_ANGLE", "deg", "0:100"),
    ]


def test_tighter_range_replaces_in_place_and_looser_is_dropped():
    selection = Selection.from_dss(keys(FT1_00_DSS), gti=GTI)
    selection.add(RangeCut("ZENITH_ANGLE", "deg", 0, 90))
    assert selection.cuts[5] == RangeCut("ZENITH_ANGLE", "deg", 0, 90)
    selection.add(RangeCut("ZENITH_ANGLE", "deg", 0, 100))
    assert len(selection) == 6 and selection.cuts[5].max == 90


def test_two_disjoint_cones_are_both_kept():
    selection = Selection.from_dss(keys(FT1_00_DSS), gti=GTI)
    selection.add(ConeCut(84.5, 22.0174, 1.0))
    cones = [c for c in selection if isinstance(c, ConeCut)]
    assert len(cones) == 2
    assert selection.filter_string().count("angsep(") == 2


def test_time_ranges_fold_into_the_gti_and_are_not_written():
    selection = Selection.from_dss(keys(FT1_00_DSS), gti=GTI)
    selection.add(RangeCut("TIME", "s", 239558000.0, 239650000.0))
    selection.merge_range_cuts()
    assert all(f[0] != "TIME" or f[2] == "TABLE" for f in selection.dss_fields())
    out = selection.apply_time_range(selection.gti)
    assert out.start.tolist() == [239558000.0, 239600000.0]
    assert out.stop.tolist() == [239560000.0, 239650000.0]


def test_from_dss_rejects_unknown_schemes_and_missing_columns():
    with pytest.raises(DssError, match=r"key 1.*no such column"):
        Selection.from_dss(keys([("FOO", "deg", "0:1", None)]), columns=["ENERGY"], source="x.fits")
    with pytest.raises(DssError, match=r"x\.fits"):
        Selection.from_dss(keys([("ENERGY", "MeV", "abc", None)]), source="x.fits")
    with pytest.raises(DssError, match="TIME/TABLE"):
        Selection.from_dss(keys([("TIME", "s", "TABLE", ":GTI")]))


def test_version_cut_round_trips_and_does_not_filter():
    selection = Selection.from_dss(keys([("IRF_VERSION", "DIMENSIONLESS", "P8R3_SOURCE_V3", None)]))
    assert selection.cuts == [VersionCut("IRF_VERSION", "P8R3_SOURCE_V3")]
    assert selection.dss_fields() == [("IRF_VERSION", "DIMENSIONLESS", "P8R3_SOURCE_V3", None)]
    assert selection.filter_string() == "gtifilter()"


def test_mask_applies_every_cut_and_the_closed_gti():
    selection = Selection.from_dss(keys(FT1_00_DSS), gti=GTI)
    n = 6
    events = {
        "RA": np.full(n, 83.6324, dtype=np.float32),
        "DEC": np.full(n, 22.0174, dtype=np.float32),
        "ENERGY": np.array([5e5, 5e5, 5e5, 5e5, 100.0, 5e5], dtype=np.float32),
        "ZENITH_ANGLE": np.full(n, 50.0, dtype=np.float32),
        "EVENT_CLASS": np.array([2048, 128, 2048, 2048, 2048, 2048], dtype=np.int64),
        "EVENT_TYPE": np.array([4, 4, 8, 4, 4, 4], dtype=np.int64),
        "TIME": np.array([239557417.0, 239557417.0, 239557417.0, 239560000.5, 239557418.0, 239560000.0]),
    }
    file_gti = Gti.from_intervals([239557417.0], [239560000.0])
    assert selection.mask(events, file_gti).tolist() == [True, False, False, False, False, True]
    assert not selection.mask(events, None).any()
    assert isinstance(selection.cuts[2], GtiCut)
