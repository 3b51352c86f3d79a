"""The weekly report's axes, colour scales, legends and spreadsheet; calibration and SSR input files."""

from datetime import datetime, timezone

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_isoc.cli import main
from fermi_isoc.db import isoc_session
from fermi_isoc.trending import plots
from fermi_isoc.trending.inputs import Series, record, samples
from fermi_isoc.trending.report import weekly_report
from fermi_sciencetools_shim.time import mission_week_bounds, utc_to_met

WEEK = 900  # 2025-08-28 .. 09-04


def _fill(url: str) -> None:
    start, _ = mission_week_bounds(WEEK)
    with Session(get_engine(url)) as s:
        met = start + 2 * 86400 + np.arange(0, 86400, 600.0)  # data on one day only
        record(s, Series("trigger_rate_hz", met, np.full(met.size, 1850.0)))
        record(s, Series("ssr_usage_bps", met, np.full(met.size, 127e9 / 86400)))
        for tower in range(16):
            record(s, Series("tkr_bad_strips", met[::36], np.zeros(4), key=f"tower {tower}"))
            record(
                s,
                Series("cal_mean_log_energy_mev", met[::36], np.full(4, 10.0 + tower), key=f"tower {tower}"),
            )
            record(s, Series("cal_mev_per_dac", start - np.array([200, 100, 10]) * 86400.0,
                             0.40 + 1e-3 * np.arange(3), key=f"tower {tower}"))  # fmt: skip
        s.commit()


def _meta(path) -> dict:
    return Image.open(path).text


def test_weekly_plots_span_the_week_in_utc(db, tmp_path):
    _fill(db.url)
    with Session(get_engine(db.url)) as s:
        index = weekly_report(WEEK, tmp_path, s)
    folder = index.parent
    for name in ("trigger_rate_hz.png", "ssr_usage_bps.png", "tkr_bad_strips.png", "cal_mean_log_energy.png"):
        meta = _meta(folder / name)
        assert (meta["x_start_utc"], meta["x_stop_utc"]) == ("2025-08-28T00:00:00", "2025-09-04T00:00:00"), (
            name
        )
    cal = _meta(folder / "cal_light.png")  # calibrations: the year up to the week's end
    assert (cal["x_start_utc"], cal["x_stop_utc"]) == ("2024-09-04T00:00:00", "2025-09-04T00:00:00")
    # an all-zero bad-strip map gets a 0..1 colour bar, not -0.1..0.1
    grid = _meta(folder / "tkr_grid.png")
    assert (grid["c_min"], grid["c_max"]) == ("0", "1")
    # 16 towers: one legend entry each, in tower order
    assert _meta(folder / "cal_mean_log_energy.png")["legend"].split("|") == [f"tower {t}" for t in range(16)]
    html = index.read_text()
    assert "MJD" not in html
    assert '<a href="weekly_w900.xlsx">' in html and "SSR usage" in html


def test_colour_limits_are_sensible():
    assert plots.colour_limits(np.zeros(16), counts=True) == (0.0, 1.0)
    assert plots.colour_limits(np.full(16, 7.0), counts=True) == (0.0, 7.0)
    assert plots.colour_limits(np.full(16, 0.4), counts=False) == pytest.approx((0.38, 0.42))
    assert plots.colour_limits(np.zeros(16), counts=False) == (-1.0, 1.0)
    assert plots.colour_limits(np.arange(16.0), counts=False) == (0.0, 15.0)


def test_the_weekly_spreadsheet_opens_in_openpyxl(db, tmp_path):
    _fill(db.url)
    with Session(get_engine(db.url)) as s:
        index = weekly_report(WEEK, tmp_path, s)
    wb = load_workbook(index.parent / "weekly_w900.xlsx", read_only=True)
    assert wb.sheetnames == ["summary", "daily"]
    rows = list(wb["summary"].iter_rows(values_only=True))
    assert rows[0] == ("week", "week_start_utc", "quantity", "key", "unit", "samples", "mean", "min", "max",
                       "first_utc", "last_utc")  # fmt: skip
    by = {(r[2], r[3] or ""): r for r in rows[1:]}  # an empty key is an empty cell
    trig = by[("trigger_rate_hz", "")]
    assert trig[0] == 900 and trig[1] == "2025-08-28T00:00:00" and trig[4] == "Hz" and trig[5] == 144
    assert trig[6] == pytest.approx(1850.0)
    assert by[("ssr_usage_bps", "")][4] == "Gbit/day" and by[("ssr_usage_bps", "")][6] == pytest.approx(127.0)
    assert by[("tkr_bad_strips", "tower 15")][6] == 0.0
    assert ("cal_mev_per_dac", "tower 0") not in by  # no calibration inside the week
    daily = list(wb["daily"].iter_rows(values_only=True))
    assert {r[1] for r in daily[1:]} == {"2025-08-30"}  # all samples on the third day
    csv_text = (index.parent / "weekly_w900.csv").read_text()
    assert (
        csv_text.splitlines()[0].startswith("week,week_start_utc,quantity") and "trigger_rate_hz" in csv_text
    )


def test_deliveries_are_matched_on_data_time_not_receive_time(db, tmp_path):
    _, stop = mission_week_bounds(WEEK)
    # received a day after the week ended, holding data of the week's last hours
    pk = db.delivery("late-one", age_h=0, met=stop - 7200)
    with isoc_session() as s:
        from fermi_ingest.models import Delivery

        d = s.get(Delivery, pk)
        d.ingested_at = datetime(2025, 9, 5, tzinfo=timezone.utc)
    db.delivery("next-week", age_h=0, met=stop + 60)  # data of the next week only
    with Session(get_engine(db.url)) as s:
        html = weekly_report(WEEK, tmp_path, s).read_text()
    assert "<th>deliveries</th><td>1</td>" in html and "no delivery holds data" not in html


def _cal_file(path, utc: str, large: float) -> None:
    lines = ["utc,tower,layer,log,mev_per_dac_large,mev_per_dac_small"]
    rng = np.random.default_rng(3)
    for t in range(16):
        for layer in range(8):
            for log in range(12):
                g = large * (1 + 0.01 * rng.standard_normal())
                if (t, layer, log) == (4, 0, 0):
                    g = 9.0  # a broken crystal: clipped away
                lines.append(f"{utc},{t},{layer},{log},{g:.5f},{g * 54.25:.4f}")
    path.write_text("\n".join(lines) + "\n")


def test_calibration_and_ssr_files_feed_trending(db, tmp_path, capsys):
    cal = tmp_path / "cal_2025-10-10.csv"
    _cal_file(cal, "2025-10-10T06:00:00", 0.40)
    assert main(["trend", "cal", str(cal)]) == 0
    assert "cal_mev_per_dac: 17 samples" in capsys.readouterr().out
    assert main(["trend", "cal", str(cal)]) == 0
    assert "already recorded" in capsys.readouterr().out
    ssr = tmp_path / "ssr.csv"
    met = utc_to_met("2025-10-10T00:00:00") + np.arange(0, 3600, 60.0)
    counter = (np.arange(met.size) * 1000) % 65536  # 1000 packets a minute, wrapping
    ssr.write_text(
        "utc,lat_packet_counter\n" + "".join(f"{m:.0f},{c}\n" for m, c in zip(met, counter, strict=True))
    )
    assert main(["trend", "ssr", str(ssr)]) == 0
    with isoc_session() as s:
        gains = samples(s, "cal_mev_per_dac", 0, 1e10)
        usage = samples(s, "ssr_usage_bps", 0, 1e10)[""]
    assert sorted(gains) == sorted([f"tower {t}" for t in range(16)] + ["all crystals"])
    assert gains["tower 4"].value[0] == pytest.approx(0.40, abs=0.002)  # the broken crystal clipped
    assert usage.value == pytest.approx(np.full(met.size - 1, 1000 * 1088 * 8 / 60.0))
    # bad input: one line naming file, line and reason
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "utc,tower,layer,log,mev_per_dac_large,mev_per_dac_small\n2025-10-10T00:00:00,16,0,0,0.4,21\n"
    )
    assert main(["trend", "cal", str(bad)]) == 2
    assert f"{bad}: line 2: tower 16 outside 0..15" in capsys.readouterr().out
    partial = tmp_path / "partial.csv"
    partial.write_text(
        "utc,tower,layer,log,mev_per_dac_large,mev_per_dac_small\n2025-10-10T00:00:00,1,0,0,0.4,21\n"
    )
    assert main(["trend", "cal", str(partial)]) == 2
    assert "has 1 of 1536 crystals" in capsys.readouterr().out
