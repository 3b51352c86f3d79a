"""``fermi-isoc trend ingest``: trending fed from the pipeline's merged event files and FT2 files."""

import numpy as np
import pytest
from sqlalchemy import func, select

from fermi_isoc.cli import main
from fermi_isoc.db import isoc_session
from fermi_isoc.models import MetricSample
from fermi_isoc.trending.feed import bad_strip_counts, counter_series
from fermi_isoc.trending.inputs import samples
from fermi_sciencetools_shim.time import mission_week, mission_week_bounds


def test_counter_series_bins_rate_and_livetime():
    # 100 Hz for 120 s, dead 10 % of the time; bins of 60 s aligned on MET multiples of 60
    t = 600.0 + np.arange(0, 120, 0.01)
    cols = {
        "event_time": t,
        "gem_seq": np.arange(t.size, dtype=np.uint64),
        "elapsed": ((t - 600.0) * 20e6).astype(np.uint64),
        "livetime": ((t - 600.0) * 18e6).astype(np.uint64),
    }
    rate, live = counter_series(cols, bin_s=60.0)
    assert rate.met.tolist() == [600.0, 660.0]
    assert rate.value == pytest.approx([100.0, 100.0], rel=1e-6)
    assert live.value == pytest.approx([0.9, 0.9], rel=1e-6) and live.key == "GEM"


def test_bad_strips_hot_and_dead_only_when_the_statistics_allow():
    hits = np.full((16, 36 * 1536), 20)
    hits[3, 100] = 5000  # hot: far above its layer
    hits[7, 1536 * 5 + 9] = 0  # dead: layer mean 20 >= 15
    hot, dead = bad_strip_counts(hits)
    assert hot[3] == 1 and hot.sum() == 1 and dead[7] == 1 and dead.sum() == 1
    sparse = np.zeros((16, 36 * 1536))
    sparse[0, :50] = 1
    sparse[0, 60] = 15  # 15 hits: above 10x the mean but too few to call hot
    hot, dead = bad_strip_counts(sparse)
    assert hot.sum() == 0 and dead.sum() == 0  # too few events to judge dead strips


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(MetricSample))


def test_demo_pipeline_feeds_the_weekly_report(db, tmp_path, capsys):
    from fermi_latsim.demo import main as demo

    assert demo(["--home", str(tmp_path / "home"), "--hours", "0.1"]) == 0
    capsys.readouterr()
    assert main(["trend", "ingest"]) == 0
    out = capsys.readouterr().out
    assert "file(s) read" in out and "trigger_rate_hz" in out
    with isoc_session() as s:
        n_first = _count(s)
        rate = samples(s, "trigger_rate_hz", 0, 1e10)[""]
        live = samples(s, "livetime_fraction", 0, 1e10)
        occ = samples(s, "tkr_occupancy", 0, 1e10)
        cal = samples(s, "cal_mean_log_energy_mev", 0, 1e10)
    assert rate.met.size >= 3 and np.all(rate.value > 0)
    assert set(live) == {"FT2", "GEM"}
    for series in live.values():
        assert np.all((series.value > 0) & (series.value <= 1))
    # the two livetime sources agree where both have a full bin
    both, ig, if2 = np.intersect1d(np.floor(live["GEM"].met / 60), np.floor(live["FT2"].met / 60),
                                   return_indices=True)  # fmt: skip
    assert both.size >= 3
    assert np.median(np.abs(live["GEM"].value[ig] - live["FT2"].value[if2])) < 0.01
    assert sorted(occ) == sorted(f"tower {t}" for t in range(16))
    assert all(np.all(s.value >= 0) for s in occ.values()) and sum(s.value.sum() for s in occ.values()) > 0
    assert cal and all(np.all(s.value > 0) for s in cal.values())

    # again: nothing new
    assert main(["trend", "ingest"]) == 0
    assert "0 file(s) read" in capsys.readouterr().out
    with isoc_session() as s:
        assert _count(s) == n_first

    week = int(mission_week(float(rate.met[0])))
    start, stop = mission_week_bounds(week)
    assert start <= rate.met[0] < stop
    assert main(["report", "--week", str(week), "--out", str(tmp_path / "rep")]) == 0
    index = tmp_path / "rep" / f"week_{week:03d}" / "index.html"
    html = index.read_text()
    for name in ("livetime.png", "trigger_rate_hz.png", "tkr_occupancy_grid.png", "cal_mean_log_energy.png"):
        assert (index.parent / name).read_bytes()[:4] == b"\x89PNG" and f'src="{name}"' in html
    assert f"<th>samples</th><td>{rate.met.size}</td>" in html
    assert "no FT2 row in this week" not in html
