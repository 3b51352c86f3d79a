"""The weekly LAT report: an HTML page with the week's trending plots, tables and a spreadsheet.

Every section states its data source; a section with no data for the week says so rather than
being left out, so a missing feed is visible. Weeks are half-open ``[Thursday 00:00 UTC, next
Thursday)`` and data are matched on **data** time (FT2 rows, samples, the packet times of a
delivery), never on when they were received. Every weekly plot's x axis is the whole week in UTC
dates; the calorimeter light-output plot spans :data:`CAL_TREND_DAYS` up to the week's end (a
calibration comes rarely; the light-yield trend is a long-term one). The weekly quantities are
also written as ``weekly_wNNN.csv``, ``daily_wNNN.csv`` and ``weekly_wNNN.xlsx``
(:mod:`fermi_isoc.trending.spreadsheet`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from fermi_core.atomic import atomic_write_text
from fermi_isoc._version import __version__
from fermi_isoc.planning.ft2check import check_ft2_saa
from fermi_isoc.planning.leapseconds import leap_seconds_in_window, table_status
from fermi_isoc.trending import plots
from fermi_isoc.trending.inputs import (
    N_TOWERS,
    Series,
    downlink_from_deliveries,
    livetime_fraction_from_ft2,
    samples,
    yearly_rate,
)
from fermi_isoc.trending.spreadsheet import write_spreadsheets
from fermi_sciencetools_shim.time import met_to_utc_iso, mission_week_bounds

#: days of calorimeter calibrations shown up to the end of the reported week
CAL_TREND_DAYS = 365


@dataclass
class Section:
    """One part of the report: title, source, summary rows (label, value), plot file names."""

    title: str
    source: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    empty: str = ""


def _clip(series: Series, start: float, stop: float) -> Series:
    keep = (series.met >= start) & (series.met < stop)
    return Series(series.quantity, series.met[keep], series.value[keep], series.key, series.unit)


def _tower_sort(key: str) -> int:
    try:
        return int(key.split()[-1])
    except ValueError:
        return N_TOWERS


def _towers(stored: dict[str, Series]) -> list[Series]:
    """The per-tower series in tower order (other keys after them)."""
    return [stored[k] for k in sorted(stored, key=lambda k: (_tower_sort(k), k))]


def _unit(series: list[Series], unit: str, scale: float = 1.0) -> list[Series]:
    return [Series(s.quantity, s.met, s.value * scale, s.key, unit) for s in series]


def weekly_report(
    week: int,
    out_dir: str | Path,
    session: Session | None = None,
    ft2_paths: list[str | Path] = (),
    fmt: str = ".png",
) -> Path:
    """Write the report of mission week ``week`` under ``out_dir/week_NNN/``; return index.html."""
    if fmt not in plots.FORMATS:
        raise ValueError(f"report: plot format must be one of {', '.join(plots.FORMATS)}, got {fmt!r}")
    start, stop = mission_week_bounds(week)
    week_span = (start, stop)
    out = Path(out_dir) / f"week_{week:03d}"
    out.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = []
    sheet: list[Series] = []  # the weekly quantities of the spreadsheet

    def stored(quantity: str, lo: float = start) -> dict[str, Series]:
        return samples(session, quantity, lo, stop) if session is not None else {}

    # livetime fraction and the SAA check, from FT2 files
    sec = Section(
        "Livetime fraction and SAA", "FT2 files: " + (", ".join(Path(p).name for p in ft2_paths) or "none")
    )
    lt = [_clip(livetime_fraction_from_ft2(p), start, stop) for p in ft2_paths]
    lt = [s for s in lt if s.met.size]
    if lt:
        values = np.concatenate([s.value for s in lt])
        sec.rows += [
            ("FT2 rows in the week", f"{values.size}"),
            ("mean livetime fraction", f"{values.mean():.4f}"),
            ("min / max", f"{values.min():.4f} / {values.max():.4f}"),
        ]
        sec.plots.append(
            plots.time_plot(lt, out / f"livetime{fmt}", f"Livetime fraction, week {week}", "LIVETIME / duration",
                            band=(0.75, 1.0), span=week_span).name
        )  # fmt: skip
        sheet += _unit(lt, "")
        for p in ft2_paths:
            rep = check_ft2_saa(p)
            sec.rows += [
                (f"{Path(p).name}: rows inside the SAA polygon", f"{rep.rows_inside.size}"),
                (f"{Path(p).name}: gaps > 5 min / with an SAA passage",
                 f"{len(rep.long_gaps)} / {len(rep.long_gaps) - len(rep.unmatched_long_gaps)}"),
            ]  # fmt: skip
    elif live := stored("livetime_fraction"):
        # no FT2 file given: the samples recorded by ``trend ingest`` (keys FT2 and GEM)
        sec.source = "isoc_metric_sample quantity livetime_fraction (keys: " + ", ".join(sorted(live)) + ")"
        for key, s in sorted(live.items()):
            sec.rows += [(f"{key}: samples", f"{s.value.size}"), (f"{key}: mean livetime fraction",
                          f"{s.value.mean():.4f}"), (f"{key}: min / max", f"{s.value.min():.4f} / {s.value.max():.4f}")]  # fmt: skip
        sec.plots.append(
            plots.time_plot(list(live.values()), out / f"livetime{fmt}", f"Livetime fraction, week {week}",
                            "livetime fraction", band=(0.75, 1.0), span=week_span).name
        )  # fmt: skip
        sheet += _unit(list(live.values()), "")
    else:
        sec.empty = "no FT2 row in this week"
    sections.append(sec)

    def measured(
        title: str,
        quantity: str,
        ylabel: str,
        scale: float = 1.0,
        unit: str = "",
        band=None,
        source: str = "",
    ) -> None:
        sec = Section(title, f"isoc_metric_sample quantity {quantity}" + source)
        series = list(stored(quantity).values())
        if not series:
            sec.empty = "no data for this week"
        else:
            scaled = _unit(series, unit, scale)
            allv = np.concatenate([s.value for s in scaled])
            sec.rows += [("samples", f"{allv.size}"), ("mean", f"{allv.mean():.4g} {unit}"),
                         ("min / max", f"{allv.min():.4g} / {allv.max():.4g} {unit}")]  # fmt: skip
            sec.plots.append(
                plots.time_plot(scaled, out / f"{quantity}{fmt}", f"{title}, week {week}", ylabel, band,
                                span=week_span).name
            )  # fmt: skip
            sheet.extend(scaled)
        sections.append(sec)

    measured("Trigger rate", "trigger_rate_hz", "Hz", unit="Hz")
    measured("Downlinked event rate", "downlinked_event_rate_hz", "Hz", unit="Hz")
    measured("SSR usage", "ssr_usage_bps", "Gbit/day", scale=86400 / 1e9, unit="Gbit/day",
             source=" (from `fermi-isoc trend ssr FILE`: housekeeping LAT packet counter)")  # fmt: skip

    sec = Section("Downlink (deliveries with data in the week)", "ingest_delivery (matched on packet time)")
    if session is not None:
        dl = downlink_from_deliveries(session, start, stop)
        if dl.met.size:
            sec.rows += [("deliveries", f"{dl.met.size}"), ("bytes", f"{dl.value.sum():.0f}"),
                         ("per day", f"{dl.met.size / 7:.1f} deliveries, {dl.value.sum() / 7 / 1e9:.3f} GB")]  # fmt: skip
            sheet.append(Series("downlink_bytes", dl.met, dl.value, "per delivery", "byte"))
    if not sec.rows:
        sec.empty = "no delivery holds data of this week"
    sections.append(sec)

    # tracker bad strips: per tower, as a time plot and the 4×4 grid of the latest values
    sec = Section("Tracker bad strips", "isoc_metric_sample quantity tkr_bad_strips (key 'tower N')")
    strips = stored("tkr_bad_strips")
    if strips:
        latest = np.zeros(N_TOWERS)
        for key, s in strips.items():
            t = _tower_sort(key)
            if t < N_TOWERS:
                latest[t] = s.value[-1]
        total = Series("tkr_bad_strips", *_sum_over_keys(list(strips.values())), key="all towers")
        sec.rows += [("bad strips (latest, all towers)", f"{latest.sum():.0f} of 884736"),
                     ("worst tower", f"T{int(latest.argmax())} ({latest.max():.0f})")]  # fmt: skip
        sec.plots.append(
            plots.time_plot([total], out / f"tkr_bad_strips{fmt}", f"Tracker bad strips, week {week}", "strips",
                            span=week_span).name
        )  # fmt: skip
        sec.plots.append(
            plots.tower_grid_plot(latest, out / f"tkr_grid{fmt}", "Bad strips per tower (latest)", "strips",
                                  counts=True).name
        )  # fmt: skip
        sheet += _unit([total, *_towers(strips)], "strips")
    else:
        sec.empty = "no data for this week"
    sections.append(sec)

    sec = Section("Tracker occupancy", "isoc_metric_sample quantity tkr_occupancy (key 'tower N')")
    occ = stored("tkr_occupancy")
    if occ:
        mean = np.zeros(N_TOWERS)
        for key, s in occ.items():
            t = _tower_sort(key)
            if t < N_TOWERS:
                mean[t] = s.value.mean()
        sec.rows += [("strip hits per event (week mean, all towers)", f"{mean.sum():.2f}"),
                     ("busiest / quietest tower", f"T{int(mean.argmax())} ({mean.max():.2f}) / "
                      f"T{int(mean.argmin())} ({mean.min():.2f})")]  # fmt: skip
        sec.plots.append(
            plots.tower_grid_plot(mean, out / f"tkr_occupancy_grid{fmt}", "Strip hits per event", "hits").name
        )
        sheet += _unit(_towers(occ), "hits/event")
    else:
        sec.empty = "no data for this week"
    sections.append(sec)

    sec = Section(
        "Calorimeter mean log energy", "isoc_metric_sample quantity cal_mean_log_energy_mev (key 'tower N')"
    )
    cle = stored("cal_mean_log_energy_mev")
    if cle:
        ordered = _towers(cle)
        sec.plots.append(
            plots.time_plot(ordered, out / f"cal_mean_log_energy{fmt}", f"Mean energy of a hit log, week {week}",
                            "MeV", span=week_span).name
        )  # fmt: skip
        allv = np.concatenate([s.value for s in ordered])
        sec.rows += [("samples", f"{allv.size}"), ("mean", f"{allv.mean():.3g} MeV")]
        sheet += _unit(ordered, "MeV")
    else:
        sec.empty = "no data for this week"
    sections.append(sec)

    cal_from = stop - CAL_TREND_DAYS * 86400.0
    sec = Section(
        "Calorimeter light output",
        "isoc_metric_sample quantity cal_mev_per_dac (from `fermi-isoc trend cal FILE`: proton calibrations; "
        f"the {CAL_TREND_DAYS} days up to the week's end)",
    )
    cal = stored("cal_mev_per_dac", cal_from)
    if cal:
        ordered = _towers(cal)
        sec.plots.append(
            plots.time_plot(ordered, out / f"cal_light{fmt}", "CsI MeV/DAC (large diode), sigma-clipped per tower",
                            "MeV/DAC", span=(cal_from, stop)).name
        )  # fmt: skip
        for s in ordered:
            rate = f", {100 * yearly_rate(s):+.2f} %/yr" if s.met.size >= 2 else ""
            sec.rows.append(
                (s.key, f"{s.value[-1]:.4f} MeV/DAC at {met_to_utc_iso(float(s.met[-1]), 0)}{rate}")
            )
        sheet += [_clip(s, start, stop) for s in _unit(ordered, "MeV/DAC")]
    else:
        sec.empty = f"no calorimeter calibration in the {CAL_TREND_DAYS} days up to this week's end"
    sections.append(sec)

    spreadsheets = write_spreadsheets(week, start, [s for s in sheet if s.met.size], out)
    leaps = leap_seconds_in_window(start, stop)
    status = table_status()
    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape()
    )
    html = env.get_template("report.html").render(
        week=week,
        utc_start=met_to_utc_iso(start, 0),
        utc_stop=met_to_utc_iso(stop, 0),
        sections=sections,
        leaps=leaps,
        leap_status=status,
        spreadsheets=[p.name for p in spreadsheets.values()],
        version=__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return atomic_write_text(out / "index.html", html)


def _sum_over_keys(series: list[Series]) -> tuple[np.ndarray, np.ndarray]:
    """Sum of several series sampled at the same times (bad strips of all towers)."""
    times = np.unique(np.concatenate([s.met for s in series]))
    total = np.zeros(times.size)
    for s in series:
        total += np.interp(times, s.met, s.value)
    return times, total
