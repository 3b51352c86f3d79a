"""The outputs of a validation: ``verdict.json``, ``events.csv``, the plots and ``report.html``.

``verdict.json`` (schema ``fermi-l1-validation/1``) is written last, so a folder with a verdict
holds a complete report. Its keys: ``verdict`` (accept / warn / reject), ``exit_code``,
``identical`` (no check found any difference), ``failing`` and ``warning`` (check names),
``checks`` (every check: name, group, status, value, warn, fail, detail), ``old`` and ``new``
(label and version of each run), ``products`` (both files of each run and type with their
SHA-256), ``events`` (counts and the first changed / removed / added events), ``gti``, ``ft2``,
``skipped_columns``, ``config``, ``files``, ``created`` and ``software``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from fermi_core.atomic import atomic_write_text
from fermi_l1.catalog.api import package_versions
from fermi_l1.validation import plots
from fermi_l1.validation.compare import Comparison
from fermi_l1.validation.events import split_key
from fermi_sciencetools_shim.gti import Gti

SCHEMA = "fermi-l1-validation/1"
VERDICT_FILE = "verdict.json"
HTML_FILE = "report.html"
EVENTS_FILE = "events.csv"


@dataclass(frozen=True)
class ReportFiles:
    """The files written by :func:`write_report`."""

    verdict: Path
    html: Path
    events: Path
    plots: list[Path]


def _intervals(gti: Gti) -> list[list[float]]:
    return [[float(a), float(b)] for a, b in zip(gti.start, gti.stop, strict=True)]


def _keys(keys, limit: int) -> list[dict[str, int]]:
    run, evt = split_key(keys[:limit])
    return [{"run_id": int(r), "event_id": int(e)} for r, e in zip(run, evt, strict=True)]


def verdict_dict(cmp: Comparison, files: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON verdict of a comparison (see the module docstring for its keys)."""
    ev, limit = cmp.events, cmp.config.max_listed
    products = []
    for (run, data_type), a in sorted(cmp.old.products.items()):
        b = cmp.new.products[(run, data_type)]
        products.append({"run": run, "data_type": data_type,
                         **{side: {"version": p.version, "path": str(p.path), "sha256": p.checksum,
                                   "logical_path": p.logical_path} for side, p in (("old", a), ("new", b))}})  # fmt: skip
    return {
        "schema": SCHEMA,
        "verdict": cmp.verdict,
        "exit_code": cmp.exit_code,
        "identical": not cmp.differences,
        "failing": [c.name for c in cmp.checks if c.status == "fail"],
        "warning": [c.name for c in cmp.checks if c.status == "warn"],
        "old": {"label": cmp.old.label, "versions": {str(r): v for r, v in cmp.old.versions.items()}},
        "new": {"label": cmp.new.label, "versions": {str(r): v for r, v in cmp.new.versions.items()}},
        "runs": sorted(cmp.old.versions),
        "checks": [c.as_dict() for c in cmp.checks],
        "products": products,
        "events": {
            "file_type": cmp.config.events_product,
            "old": ev.n_old,
            "new": ev.n_new,
            "matched": ev.matched,
            "removed": int(ev.removed.size),
            "added": int(ev.added.size),
            "changed": int(ev.changed.size),
            "changed_columns": ev.changed_columns,
            "listed": limit,
            "removed_events": _keys(ev.removed, limit),
            "added_events": _keys(ev.added, limit),
            "changed_events": ev.listed,
        },
        "gti": {
            t: {
                "old_ontime": g.old.ontime,
                "new_ontime": g.new.ontime,
                "only_old": _intervals(g.only_old),
                "only_new": _intervals(g.only_new),
            }
            for t, g in cmp.gti.items()
        },
        "ft2": {
            "file_type": cmp.config.spacecraft_product,
            "rows_old": cmp.ft2.n_old,
            "rows_new": cmp.ft2.n_new,
            "removed": cmp.ft2.removed,
            "added": cmp.ft2.added,
            "differing": cmp.ft2.differing,
            "columns": cmp.ft2.columns,
            "livetime_old": cmp.ft2.livetime_old,
            "livetime_new": cmp.ft2.livetime_new,
        },
        "skipped_columns": cmp.skipped_columns,
        "config": cmp.config.as_dict(),
        "files": files or {},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": package_versions(),
    }


def events_csv(cmp: Comparison) -> str:
    """Every removed, added and changed event: ``run_id,event_id,status,columns``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run_id", "event_id", "status", "changed_columns"])
    ev = cmp.events
    rows = [(k, "removed", "") for k in ev.removed.tolist()] + [(k, "added", "") for k in ev.added.tolist()]
    rows += [(k, "changed", ";".join(ev.changes_by_key[k])) for k in ev.changed.tolist()]
    for key, status, cols in sorted(rows):
        w.writerow([key >> 32, key & 0xFFFFFFFF, status, cols])
    return buf.getvalue()


def _plots(cmp: Comparison, out: Path) -> dict[str, Path]:
    labels = (cmp.old.label, cmp.new.label)
    made: dict[str, Path] = {}
    for column, ks in cmp.ks.items():
        made[f"distribution/{column}"] = plots.distribution_plot(
            column, cmp.old_events.columns[column], cmp.new_events.columns[column],
            cmp.old_events.units.get(column), ks, labels, out / f"dist_{column.lower()}.png",
        )  # fmt: skip
    if cmp.bits:
        made["counts"] = plots.counts_plot(cmp.bits, labels, out / "counts.png")
    made["gti"] = plots.gti_plot(cmp.gti, labels, out / "gti.png")
    made["livetime"] = plots.livetime_plot(cmp.ft2, labels, "s", out / "livetime.png")
    return made


def write_report(cmp: Comparison, out_dir: str | os.PathLike[str]) -> ReportFiles:
    """Write the plots, ``events.csv``, ``report.html`` and (last) ``verdict.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made = _plots(cmp, out)
    events = atomic_write_text(out / EVENTS_FILE, events_csv(cmp))
    files = {"html": HTML_FILE, "events": EVENTS_FILE, "plots": {k: p.name for k, p in made.items()}}
    verdict = verdict_dict(cmp, files)
    env = Environment(loader=PackageLoader("fermi_l1.validation", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))  # fmt: skip
    html = env.get_template("report.html.j2").render(v=verdict, cmp=cmp, plots=files["plots"])
    html_path = atomic_write_text(out / HTML_FILE, html)
    verdict_path = atomic_write_text(
        out / VERDICT_FILE, json.dumps(verdict, indent=2, sort_keys=False) + "\n"
    )
    return ReportFiles(verdict_path, html_path, events, list(made.values()))
