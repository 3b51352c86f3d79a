"""Trending inputs (counters, FT2, calibrations), plots and the weekly report."""

import numpy as np
import pytest
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_isoc.cli import main
from fermi_isoc.trending import plots
from fermi_isoc.trending.inputs import (
    Series,
    bad_strips_per_tower,
    cal_light_output,
    livetime_fraction_from_ft2,
    record,
    samples,
    ssr_usage_from_packet_counter,
    tower_grid,
    trigger_rate_from_counters,
    yearly_rate,
)
from fermi_isoc.trending.report import weekly_report
from fermi_sciencetools_shim.time import mission_week_bounds

W323 = "pint/lat_spacecraft_weekly_w323_p202_v001.fits"


def test_trigger_rate_survives_a_counter_reset():
    met = np.array([0.0, 10.0, 20.0, 30.0])
    sent = np.array([1_000_000, 1_020_000, 5_000, 25_000])  # reboot between 10 and 20 s
    rate = trigger_rate_from_counters(met, sent)
    assert rate.value.tolist() == [2000.0, 500.0, 2000.0]
    with pytest.raises(ValueError, match="strictly increasing"):
        trigger_rate_from_counters(np.array([0.0, 0.0]), np.array([1, 2]))


def test_ssr_usage_with_the_16_bit_wrap():
    met = np.array([0.0, 100.0, 200.0])
    counter = np.array([65000, 65535 + 1000 - 65536 + 1, 2537])  # wraps between 0 and 100 s
    s = ssr_usage_from_packet_counter(met, counter)
    assert s.value[0] == pytest.approx((1000 + 1 - (65000 - 65535)) * 1088 * 8 / 100)
    # about 127 Gbit/day in 2012: 14.59 million packets a day, the counter wrapping every ~6.5 min
    met = np.arange(0.0, 3600.0, 10.0)
    packets = (met * 127e9 / 8 / 1088 / 86400).astype(np.int64)
    hourly = ssr_usage_from_packet_counter(met, packets % 65536)
    assert hourly.value.mean() * 86400 / 1e9 == pytest.approx(127, rel=1e-3)


def test_tower_grid_follows_column_plus_four_rows():
    grid = tower_grid(np.arange(16))
    assert grid[1, 2] == 6 and grid[3, 0] == 12 and grid[0, 3] == 3
    with pytest.raises(ValueError, match="expected 16 values"):
        tower_grid(np.arange(15))


def test_bad_strips_per_tower_counts_unique_valid_strips():
    counts = bad_strips_per_tower(0.0, {0: np.array([1, 1, 5, 55295]), 15: np.array([7])})
    assert counts[0] == 3 and counts[15] == 1 and counts.sum() == 4
    with pytest.raises(ValueError, match=r"tower 3 has a strip index outside 0\.\.55295"):
        bad_strips_per_tower(0.0, {3: np.array([55296])})


def test_cal_light_output_is_sigma_clipped_and_the_yearly_rate_measured():
    rng = np.random.default_rng(1)
    gains = rng.normal(0.40, 0.004, 1536)
    gains[:5] = 5.0  # dead or mis-calibrated crystals must not pull the mean
    overall, per_tower = cal_light_output(gains)
    assert overall == pytest.approx(0.40, abs=0.001) and per_tower.shape == (16,)
    years = np.arange(6)
    s = Series("cal", years * 365.25 * 86400.0, 0.40 * (1 + 0.01 * years))
    assert yearly_rate(s) == pytest.approx(0.01, rel=1e-6)


def test_plots_are_written_as_png_and_svg(tmp_path):
    s = Series("x", np.array([4.29e8, 4.291e8]), np.array([1.0, 2.0]))
    png = plots.time_plot([s], tmp_path / "a.png", "t", "y")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plots.tower_grid_plot(np.arange(16.0), tmp_path / "g.svg", "t", "y")
    assert "<svg" in svg.read_text()[:500] and "T15" in svg.read_text()
    with pytest.raises(ValueError, match="plot format"):
        plots.time_plot([s], tmp_path / "a.jpg", "t", "y")


@pytest.mark.requires_data
def test_livetime_fraction_of_the_real_week(shared_data):
    s = livetime_fraction_from_ft2(shared_data / W323)
    assert s.met.size == 17305
    assert 0.8 < np.median(s.value) < 0.95 and s.value.max() <= 1.0


@pytest.mark.requires_data
def test_weekly_report_of_week_323(db, shared_data, tmp_path):
    start, _stop = mission_week_bounds(323)
    with Session(get_engine(db.url)) as s:
        met = start + np.arange(0, 7 * 86400, 3600.0)
        record(s, Series("trigger_rate_hz", met, np.full(met.size, 1850.0)))
        for tower in range(16):
            record(s, Series("tkr_bad_strips", met[::24], np.full(7, 20.0 + tower), key=f"tower {tower}"))
            record(s, Series("cal_mev_per_dac", met[::24], 0.40 + 1e-4 * np.arange(7), key=f"tower {tower}"))
        s.commit()
        assert len(samples(s, "tkr_bad_strips", start, start + 7 * 86400)) == 16
        index = weekly_report(323, tmp_path / "out", s, [shared_data / W323])
    html = index.read_text()
    from astropy.io import fits

    with fits.open(shared_data / W323) as h:
        rows = h["SC_DATA"].data["START"]
        in_week = int(((rows >= start) & (rows < start + 7 * 86400)).sum())
    assert in_week == 17116  # the file runs 1.5 h into week 324
    assert "mission week 323" in html and "2014-08-07T00:00:00 to 2014-08-14T00:00:00" in html
    assert f"<th>FT2 rows in the week</th><td>{in_week}</td>" in html
    assert "rows inside the SAA polygon</th><td>0</td>" in html
    assert "gaps &gt; 5 min / with an SAA passage</th><td>66 / 66</td>" in html
    assert "<th>worst tower</th><td>T15 (35)</td>" in html
    for name in ("livetime.png", "trigger_rate_hz.png", "tkr_grid.png", "cal_light.png"):
        assert (index.parent / name).read_bytes()[:4] == b"\x89PNG" and f'src="{name}"' in html
    # downlinked event rate, SSR usage, tracker occupancy and calorimeter log energy: not fed here
    assert html.count("no data for this week") == 4


def test_report_command_without_data_says_so(db, tmp_path, capsys):
    assert main(["report", "--week", "900", "--out", str(tmp_path), "--format", "svg"]) == 0
    index = tmp_path / "week_900" / "index.html"
    assert str(index) in capsys.readouterr().out
    html = index.read_text()
    assert "no FT2 row in this week" in html and "no delivery holds data of this week" in html
    assert (
        main(["report", "--week", "900", "--out", str(tmp_path), "--ft2", str(tmp_path / "none.fits")]) == 2
    )
