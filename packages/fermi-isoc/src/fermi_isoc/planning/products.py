"""The planning products of one mission week, as files an operator can send on.

``write_products(plan, out_dir, extra_commands)`` writes into ``out_dir/wNNN/`` (formats in
``docs/operations/planning.md``):

* ``L<YYYY><DOY>SAA_predicted_wNNN.txt`` — the predicted SAA passages in flight operations' own
  report format (no header, ``DOY/YYYY hh:mm:ss.sss``, quoted orbit numbers, minutes), so
  ``fermi-isoc saa-report THEIR_REPORT --previous THIS`` compares the two;
* ``saa_passages_wNNN.csv`` — the same passages with a header, UTC ISO and MET;
* ``week_wNNN.json`` — the week (half-open UTC and MET bounds), the TLE and its distance from the
  week, the SAA polygon version, leap seconds, the leap-second table, passage statistics,
  warnings, and the list of product files;
* ``leap_seconds_wNNN.csv`` — leap seconds inside the week (header only when none);
* ``commands_wNNN.csv`` — the orbit commands of the load (SAA entry/exit, plane crossings), a
  timeline ``fermi-isoc plan --commands`` reads back;
* ``boundary_wNNN.csv`` — commands (of the load and of a given timeline) that straddle or sit on
  a mission-week boundary.

Every file is written atomically and holds no time of writing, so planning the same week with
the same inputs again gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fermi_core.atomic import atomic_write_text
from fermi_isoc.planning.commands import BoundaryFinding, Command, check_week_boundaries
from fermi_isoc.planning.saareport import Transit, write_fot_report
from fermi_isoc.planning.week import WeekPlan
from fermi_sciencetools_shim.time import met_to_time, met_to_utc_iso


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _fot_name(plan: WeekPlan) -> str:
    yday = str(met_to_time(plan.met_start).utc.yday)  # YYYY:DDD:hh:mm:ss
    year, doy = yday.split(":")[:2]
    return f"L{year}{doy}SAA_predicted_w{plan.week:03d}.txt"


def _orbit(plan: WeekPlan, met: float) -> int | str:
    return plan.orbits.orbit_at(met) if plan.orbits is not None else ""


def write_products(
    plan: WeekPlan, out_dir: str | Path, extra_commands: list[Command] = ()
) -> dict[str, Path]:
    """Write the week's planning products; return them by kind.

    Parameters
    ----------
    plan : WeekPlan
        From :func:`fermi_isoc.planning.week.plan_week`.
    out_dir : str or Path
        Parent folder; the files go into ``out_dir/wNNN/``.
    extra_commands : list of Command
        An operator's timeline checked against the week boundaries with the load's commands.
    """
    out = Path(out_dir) / f"w{plan.week:03d}"
    out.mkdir(parents=True, exist_ok=True)
    tag = f"w{plan.week:03d}"
    files: dict[str, Path] = {}

    transits = [
        Transit(
            p.entry,
            int(_orbit(plan, p.entry) or 0),
            p.exit,
            int(_orbit(plan, p.exit) or 0),
            p.duration,
            i + 1,
        )
        for i, p in enumerate(plan.passages)
    ]
    files["saa_fot"] = write_fot_report(transits, out / _fot_name(plan))
    files["saa_csv"] = atomic_write_text(
        out / f"saa_passages_{tag}.csv",
        _csv(
            ["entry_utc", "exit_utc", "duration_min", "entry_met", "exit_met", "orbit"],
            [[met_to_utc_iso(t.start, 3), met_to_utc_iso(t.stop, 3), f"{(t.stop - t.start) / 60:.3f}",
              f"{t.start:.3f}", f"{t.stop:.3f}", t.start_orbit] for t in transits],
        ),
    )  # fmt: skip
    files["leap_seconds"] = atomic_write_text(
        out / f"leap_seconds_{tag}.csv",
        _csv(
            ["effective_utc", "inserted_second_utc", "met_start", "tai_utc_after"],
            [[x.effective_utc, met_to_utc_iso(x.met_start, 0), f"{x.met_start:.0f}", x.tai_utc_after]
             for x in plan.leap_seconds],
        ),
    )  # fmt: skip
    files["commands"] = atomic_write_text(
        out / f"commands_{tag}.csv",
        _csv(
            ["name", "start", "duration_s", "start_met", "orbit"],
            [[c.name, met_to_utc_iso(c.start, 3), f"{c.duration:g}", f"{c.start:.3f}", _orbit(plan, c.start)]
             for c in plan.commands],
        ),
    )  # fmt: skip
    findings: list[tuple[str, BoundaryFinding]] = [("load", f) for f in check_week_boundaries(plan.commands)]
    findings += [("timeline", f) for f in check_week_boundaries(list(extra_commands))]
    files["boundary"] = atomic_write_text(
        out / f"boundary_{tag}.csv",
        _csv(
            ["source", "name", "start_utc", "stop_utc", "kind", "week", "boundary_utc", "message"],
            [[src, f.command.name, met_to_utc_iso(f.command.start, 3), met_to_utc_iso(f.command.stop, 3), f.kind,
              f.week, met_to_utc_iso(f.boundary_met, 0), f.message] for src, f in findings],
        ),
    )  # fmt: skip
    summary = plan.summary()
    week_json = {
        "week": plan.week,
        "utc_start": plan.utc_start,
        "utc_stop_exclusive": plan.utc_stop,
        "met_start": plan.met_start,
        "met_stop_exclusive": plan.met_stop,
        "tle": {
            "source": plan.tle.source,
            "line1": plan.tle.line1,
            "line2": plan.tle.line2,
            "epoch_utc": str(met_to_utc_iso(plan.tle.epoch_met, 0)),
            "days_from_week": plan.tle_distance_days,
        },
        "saa_polygon": {"name": plan.polygon.name, "valid_from": plan.polygon.valid_from,
                        "source": plan.polygon.source},
        "passages": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in summary.items()},
        "orbits": [int(plan.orbits.orbit_at(plan.met_start)), int(plan.orbits.orbit_at(plan.met_stop - 1e-3))]
        if plan.orbits is not None else None,
        "commands": len(plan.commands),
        "boundary_findings": len(findings),
        "leap_seconds": [x.effective_utc for x in plan.leap_seconds],
        "leap_second_table": {"expires": plan.leap_table.expires.isoformat(), "last_leap": plan.leap_table.last_leap},
        "warnings": plan.warnings,
        "files": sorted(p.name for p in files.values()),
    }  # fmt: skip
    files["week"] = atomic_write_text(out / f"week_{tag}.json", json.dumps(week_json, indent=2) + "\n")
    return files
