"""Bad time intervals: recording, DATA_QUAL in the FT2 rows, FT1 GTIs following, re-issue planning."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from fermi_core.site import Site
from fermi_l1 import synthetic
from fermi_l1.db import session
from fermi_l1.ft2.quality import apply_bad_times, flagged_rows, flagged_span
from fermi_l1.pipeline.inputs import write_run_inputs
from fermi_l1.pipeline.l1run import make_run_products
from fermi_l1.quality.auto import RateBins, find_excursions, rate_bins
from fermi_l1.quality.cli import parse_time
from fermi_l1.quality.intervals import QualityError, flag, list_intervals, unflag
from fermi_l1.versions import plan_versions, planned_versions
from fermi_sciencetools_shim.gti import Gti, intersection
from fermi_sciencetools_shim.io.ft1 import read_events, read_gti
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.io.ft2_merge import merge_ft2
from fermi_sciencetools_shim.mktime.gtmktime import gtmktime

RUN = 239557414
DATE = "2024-05-01T12:00:00"


def test_flag_unflag_list_keep_who_why_and_refuse_bad_input(db_url):
    with session(db_url) as s:
        a = flag(s, 100.0, 200.0, reason="solar flare", who="shifter")
        b = flag(s, 50.0, 60.0, reason="rate excursion", who="check", source="auto", data_qual=-1,
                 detail={"sigma": 12.0})  # fmt: skip
    with session(db_url) as s:
        assert [(i.id, i.source, i.data_qual) for i in list_intervals(s)] == [
            (b, "auto", -1),
            (a, "operator", 0),
        ]
        removed = unflag(s, a, who="scientist", reason="no flare after all")
        assert not removed.active and removed.removed_by == "scientist" and removed.removed_at is not None
    with session(db_url) as s:
        assert [i.id for i in list_intervals(s)] == [b]
        everything = {i.id: i for i in list_intervals(s, active_only=False)}
        assert everything[a].removed_reason == "no flare after all" and everything[b].detail == {
            "sigma": 12.0
        }
        with pytest.raises(QualityError, match="already removed by scientist"):
            unflag(s, a, who="x", reason="y")
        with pytest.raises(QualityError, match="no bad time interval 999"):
            unflag(s, 999, who="x", reason="y")
        for kwargs, message in (
            ({"start_met": 5.0, "stop_met": 5.0}, "stop must be after start"),
            ({"start_met": 1.0, "stop_met": 2.0, "data_qual": 1}, "must be 0 or negative"),
            ({"start_met": 1.0, "stop_met": 2.0, "source": "robot"}, "source 'robot'"),
            ({"start_met": 1.0, "stop_met": 2.0, "reason": " "}, "needs a reason"),
        ):
            args = {"reason": "r", "who": "w", **kwargs}
            with pytest.raises(QualityError, match=message):
                flag(s, args.pop("start_met"), args.pop("stop_met"), **args)


def test_times_are_met_or_utc():
    assert parse_time("239557417.5") == 239557417.5
    # 2008-08-04T15:43:36 UTC is MET 239557417 (two leap seconds since 2001 are counted)
    assert parse_time("2008-08-04T15:43:36") == pytest.approx(239557417.0, abs=1e-6)


def _rows(start: float, n: int) -> dict[str, np.ndarray]:
    t = start + np.arange(n, dtype=np.float64)
    return {"START": t, "STOP": t + 1.0, "DATA_QUAL": np.ones(n, dtype=np.int16),
            "LAT_CONFIG": np.ones(n, dtype=np.uint8), "LAT_MODE": np.full(n, 5, dtype=np.int32),
            "LIVETIME": np.full(n, 0.9)}  # fmt: skip


def test_data_qual_flags_every_row_the_interval_overlaps_and_nothing_else():
    rows = _rows(1000.0, 120)
    flagged = apply_bad_times(rows, [{"start": 1010.0, "stop": 1020.0, "data_qual": 0},
                                     {"start": 1050.4, "stop": 1051.2, "data_qual": -1},
                                     {"start": 1051.0, "stop": 1052.0, "data_qual": 0}])  # fmt: skip
    assert np.all(rows["DATA_QUAL"] == 1)  # the input is not modified
    assert flagged["LAT_CONFIG"] is rows["LAT_CONFIG"]  # every other column untouched
    assert flagged_span(flagged) == [(1010.0, 1020.0), (1050.0, 1052.0)]  # widened to whole rows
    q = flagged["DATA_QUAL"]
    assert q.dtype == np.int16 and q[50] == -1 and q[51] == -1 and q[52] == 1  # lowest value wins
    assert not flagged_rows(rows["START"], rows["STOP"], 1020.0, 1030.0)[19]  # touching is not overlapping
    merged = merge_ft2(flagged, 30.0)  # the 30 s rows are cut where DATA_QUAL changes
    bad = merged["DATA_QUAL"] <= 0
    assert list(zip(merged["START"][bad], merged["STOP"][bad], strict=True)) == [
        (1010.0, 1020.0),
        (1050.0, 1052.0),
    ]


def _inputs(site: Site, version: int, bad_times: list[dict]) -> Path:
    samples = synthetic.spacecraft_samples(RUN - 5.0, 130.0)
    merit = synthetic.merit_table(samples, RUN + 0.5, RUN + 120.0, 400, seed=7)
    info = {"version": version, "proc_ver": 305, "halfpipe_revision": 1, "completion": "complete",
            "lost_events": 0, "campaign": None}  # fmt: skip
    if bad_times:
        info["bad_times"] = bad_times
    return write_run_inputs(site.l1_input_dir(RUN, version), RUN, RUN + 0.5, RUN + 120.0, samples, [merit],
                            provenance={"merged_files": [], "spacecraft_files": [], "pass": info})  # fmt: skip


def _by_tag(paths: list[str]) -> dict[str, Path]:
    return {Path(p).name.split("_")[1]: Path(p) for p in paths}


def test_a_version_with_a_bad_time_interval_flags_ft2_and_its_ft1_gtis_follow(tmp_path):
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'fermi.db'}")
    # site=None: no monitoring step (it needs full merit tables, the synthetic ones are FT1-only)
    v1 = _by_tag(make_run_products(_inputs(site, 1, []), site.products, site.outbox, date=DATE,
                                   db_url=site.db_url, site=None))  # fmt: skip
    lo, hi = RUN + 40.0, RUN + 70.0
    bti = [{"id": 1, "start": lo, "stop": hi, "data_qual": 0}]
    v2 = _by_tag(make_run_products(_inputs(site, 2, bti), site.products, site.outbox, date=DATE,
                                   db_url=site.db_url, site=None))  # fmt: skip
    for tag in ("pt1s", "pt"):
        old, new = read_ft2(v1[tag]), read_ft2(v2[tag])
        assert np.all(old["DATA_QUAL"] == 1)
        assert flagged_span(new) == [(lo, hi)]
        assert np.array_equal(old["LAT_CONFIG"], new["LAT_CONFIG"]) if tag == "pt1s" else True
    gap = Gti(np.array([lo]), np.array([hi]))
    for tag in ("ph", "xp", "ev"):
        g1, g2 = read_gti(v1[tag]), read_gti(v2[tag])
        assert len(intersection(g2, gap)) == 0 and g2.ontime == pytest.approx(g1.ontime - (hi - lo), abs=1e-6)
        t2 = read_events(v2[tag], ["TIME"])[0]["TIME"]
        t1 = read_events(v1[tag], ["TIME"])[0]["TIME"]
        assert not np.any((t2 > lo) & (t2 < hi))  # gtmktime keeps only the events inside the GTIs
        assert np.array_equal(t2, t1[~((t1 > lo) & (t1 < hi))])
    # the user's gtmktime DATA_QUAL>0 on v001's events with v002's FT2 removes exactly the interval
    out = tmp_path / "user.fits"
    gtmktime(v2["pt"], "DATA_QUAL>0 && LAT_CONFIG==1", False, v1["ph"], out)
    g1, gu = read_gti(v1["ph"]), read_gti(out)
    before = list(zip(g1.start, g1.stop, strict=True))
    expected = [(a, min(b, lo)) for a, b in before if a < lo] + [(max(a, hi), b) for a, b in before if b > hi]
    assert list(zip(gu.start, gu.stop, strict=True)) == expected
    with session(site.db_url) as s:
        from fermi_l1.catalog import query

        prov = json.loads(next(r for r in query(s, run=RUN) if r.version == 2).provenance)
        assert prov["bad_times"] == bti


def test_a_run_entirely_inside_a_bad_interval_gets_ft1_with_no_good_time(tmp_path):
    site = Site(tmp_path, f"sqlite:///{tmp_path / 'fermi.db'}")
    v1 = _by_tag(make_run_products(_inputs(site, 1, []), site.products, site.outbox, date=DATE,
                                   db_url=site.db_url, site=None))  # fmt: skip
    bti = [{"id": 1, "start": RUN - 10.0, "stop": RUN + 200.0, "data_qual": 0}]  # the whole run and more
    v2 = _by_tag(make_run_products(_inputs(site, 2, bti), site.products, site.outbox, date=DATE,
                                   db_url=site.db_url, site=None))  # fmt: skip
    for tag in ("pt1s", "pt"):  # every row flagged, nothing else changed
        old, new = read_ft2(v1[tag]), read_ft2(v2[tag])
        assert np.all(new["DATA_QUAL"] == 0) and np.array_equal(old["START"], new["START"])
        assert np.array_equal(old["LIVETIME"], new["LIVETIME"])
    for tag in ("ph", "xp", "ev"):  # no good time: no events, an empty GTI, ONTIME 0; the rest kept
        assert len(read_gti(v1[tag])) >= 1 and read_events(v1[tag], ["TIME"])[0]["TIME"].size > 0
        assert len(read_gti(v2[tag])) == 0
        assert read_events(v2[tag], ["TIME"])[0]["TIME"].size == 0
        with fits.open(v1[tag]) as h1, fits.open(v2[tag]) as h2:
            assert [h.name for h in h1] == [h.name for h in h2]
            assert h2["GTI"].header["ONTIME"] == 0.0 and h2[0].header["FILENAME"] == v2[tag].name
            assert h2["EVENTS"].columns.names == h1["EVENTS"].columns.names
            differ = {"FILENAME", "VERSION", "DATE", "CHECKSUM", "DATASUM", "NAXIS2", "ONTIME"}
            for x, y in zip(h1, h2, strict=True):  # every other card as in v001 (spans, keys, DSS ...)
                assert {k: v for k, v in x.header.items() if k not in differ} == {
                    k: v for k, v in y.header.items() if k not in differ
                }, (tag, x.name)
            assert h2[0].header["VERSION"] == "2"
    with session(site.db_url) as s:  # catalogued as v002 like any other re-issue
        from fermi_l1.catalog import query

        assert {r.data_type for r in query(s, run=RUN) if r.version == 2} >= {
            "FT1",
            "EXTENDEDFT1",
            "LS1",
            "FT2",
        }


@dataclass
class _Retired:
    """What the planner reads of a halfpipe RetiredRun."""

    run_id: int
    start: float
    stop: float
    revision: int = 1
    completion: str = "complete"
    lost_events: int = 0
    reason: str = ""
    files: list = field(default_factory=list)
    spacecraft: list = field(default_factory=list)


def test_flagging_and_unflagging_plan_the_next_version_of_the_runs_overlapped(db_url):
    a, b = _Retired(1000, 1000.0, 2000.0), _Retired(3000, 3000.0, 4000.0)
    with session(db_url) as s:
        plan_versions(s, [a, b])
        assert plan_versions(s, [a, b]) == []  # nothing changed: nothing planned
        iid = flag(s, 1500.0, 1600.0, reason="solar flare", who="shifter")
        flag(s, 5000.0, 5100.0, reason="outside every run", who="shifter")
        added = plan_versions(s, [a, b])
        assert [(r.run, r.version) for r in added] == [(1000, 2)]
        assert added[0].reason == f"quality flags: bad time interval(s) {iid} flagged"
        assert plan_versions(s, [a, b]) == []  # planned once
        unflag(s, iid, who="shifter", reason="mistake")
        added = plan_versions(s, [a, b])
        assert [(r.run, r.version, r.reason) for r in added] == [
            (1000, 3, f"quality flags: bad time interval(s) {iid} removed")
        ]
        versions = {v.version: v for v in planned_versions(s, [1000])}
    assert versions[2].bad_times == [{"id": iid, "start": 1500.0, "stop": 1600.0, "data_qual": 0}]
    assert versions[2].pass_info()["bad_times"] == versions[2].bad_times
    assert versions[3].plan == versions[1].plan and "bad_times" not in versions[3].pass_info()


def _bins(rate: np.ndarray, seed: int, bin_s: float = 30.0) -> RateBins:
    rng = np.random.default_rng(seed)
    start = 1000.0 + bin_s * np.arange(rate.size)
    live = np.full(rate.size, 0.9 * bin_s)
    return RateBins(start, start + bin_s, rng.poisson(rate * live), live)


def test_rate_excursion_found_exactly_and_no_false_alarm_on_an_orbit_modulated_rate():
    t = np.arange(200) * 30.0
    rate = 12.0 * (1.0 + 0.4 * np.sin(2 * np.pi * t / 5760.0))  # the orbital modulation (McIlwain L)
    for seed in range(20):
        assert find_excursions(_bins(rate, seed)) == []
    hot = rate.copy()
    hot[80:86] *= 3.0  # three minutes at three times the rate
    found = find_excursions(_bins(hot, 1))
    assert [(e.start, e.stop) for e in found] == [(1000.0 + 80 * 30.0, 1000.0 + 86 * 30.0)]
    assert found[0].sigma > 8 and "rate excursion" in found[0].reason()
    assert find_excursions(_bins(rate[:5], 1)) == []  # too few bins to judge


def test_rate_bins_follow_the_rows_and_count_the_events():
    rows = _rows(1000.0, 100)
    rows["STOP"][59] = 1059.5  # a gap: a new bin starts after it
    rows["START"][60:] += 1.0
    rows["STOP"][60:] += 1.0
    events = np.array([1000.0, 1029.99, 1030.0, 1059.2, 1061.0])
    bins = rate_bins(rows, events)
    assert list(bins.start) == [1000.0, 1030.0, 1061.0, 1091.0]
    assert list(bins.stop) == [1030.0, 1059.5, 1091.0, 1101.0]
    assert list(bins.counts) == [2, 2, 1, 0]
