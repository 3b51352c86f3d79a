"""The weekly quantities as a spreadsheet (CSV and XLSX), replacing the hand-kept sheets.

Sheet ``summary`` (also ``weekly_wNNN.csv``), one row per quantity and key:
``week, week_start_utc, quantity, key, unit, samples, mean, min, max, first_utc, last_utc``.
Sheet ``daily`` (also ``daily_wNNN.csv``), one row per UTC day, quantity and key:
``week, day_utc, quantity, key, unit, samples, mean, min, max``.
Values are the report's (scaled to the unit shown, e.g. SSR usage in Gbit/day). The CSV files
hold no time of writing (the same week gives the same bytes); the XLSX has the same cells, its
creation date is the week's start (openpyxl stamps the save time as "modified").
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import numpy as np

from fermi_core.atomic import atomic_write_bytes, atomic_write_text
from fermi_isoc.trending.inputs import Series
from fermi_sciencetools_shim.time import met_to_utc_iso, utc_to_met

SUMMARY_COLUMNS = ("week", "week_start_utc", "quantity", "key", "unit", "samples", "mean", "min", "max",
                   "first_utc", "last_utc")  # fmt: skip
DAILY_COLUMNS = ("week", "day_utc", "quantity", "key", "unit", "samples", "mean", "min", "max")


def summary_rows(week: int, met_start: float, series: list[Series]) -> list[list[object]]:
    """One summary row per series with data."""
    day0 = str(met_to_utc_iso(met_start, 0))
    return [
        [week, day0, s.quantity, s.key, s.unit, int(s.value.size), float(np.mean(s.value)), float(np.min(s.value)),
         float(np.max(s.value)), str(met_to_utc_iso(float(s.met.min()), 0)),
         str(met_to_utc_iso(float(s.met.max()), 0))]
        for s in series if s.value.size
    ]  # fmt: skip


def daily_rows(week: int, met_start: float, series: list[Series]) -> list[list[object]]:
    """Per UTC day of the week: samples, mean, min, max of each series."""
    days = [str(met_to_utc_iso(met_start + 86400.0 * d, 0))[:10] for d in range(8)]
    edges = np.array([float(utc_to_met(f"{d}T00:00:00")) for d in days])  # UTC midnights (leap-second safe)
    out: list[list[object]] = []
    for s in series:
        which = np.searchsorted(edges, s.met, side="right") - 1
        for d in range(7):
            v = s.value[which == d]
            if v.size:
                out.append([week, days[d], s.quantity, s.key, s.unit, int(v.size), float(v.mean()),
                            float(v.min()), float(v.max())])  # fmt: skip
    return out


def _csv(columns: tuple[str, ...], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([[f"{x:.6g}" if isinstance(x, float) else x for x in r] for r in rows])
    return buf.getvalue()


def write_spreadsheets(
    week: int, met_start: float, series: list[Series], out_dir: str | Path
) -> dict[str, Path]:
    """Write ``weekly_wNNN.csv``, ``daily_wNNN.csv`` and ``weekly_wNNN.xlsx`` into ``out_dir``."""
    out = Path(out_dir)
    summary = summary_rows(week, met_start, series)
    daily = daily_rows(week, met_start, series)
    files = {
        "csv": atomic_write_text(out / f"weekly_w{week:03d}.csv", _csv(SUMMARY_COLUMNS, summary)),
        "daily_csv": atomic_write_text(out / f"daily_w{week:03d}.csv", _csv(DAILY_COLUMNS, daily)),
    }
    files["xlsx"] = atomic_write_bytes(
        out / f"weekly_w{week:03d}.xlsx", xlsx_bytes(week, met_start, summary, daily)
    )
    return files


def xlsx_bytes(week: int, met_start: float, summary: list[list[object]], daily: list[list[object]]) -> bytes:
    """The workbook (sheets ``summary`` and ``daily``) as bytes, stamped with the week's start."""
    from openpyxl import Workbook  # a dependency of fermi-isoc; imported here so the CLI starts without it

    wb = Workbook()
    for sheet, columns, rows in (
        (wb.active, SUMMARY_COLUMNS, summary),
        (wb.create_sheet(), DAILY_COLUMNS, daily),
    ):
        sheet.title = "summary" if columns is SUMMARY_COLUMNS else "daily"
        sheet.append(list(columns))
        for r in rows:
            sheet.append(r)
        sheet.freeze_panes = "A2"
        for i, name in enumerate(columns):
            width = max(
                [len(name)] + [len(f"{r[i]:.6g}" if isinstance(r[i], float) else str(r[i])) for r in rows]
            )
            sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width = min(width + 2, 40)
    stamp = datetime.fromisoformat(str(met_to_utc_iso(met_start, 0)))
    wb.properties.created = wb.properties.modified = stamp
    wb.properties.title = f"LAT weekly quantities, mission week {week}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
