"""Compare two sides (versions or campaigns) of the same runs: the checks and the verdict.

Each check yields one number, judged against its thresholds (:class:`~fermi_l1.validation.config.Limits`):

* ``counts/<TYPE>``: relative change of the event count of each event file type;
* ``counts/class/<NAME>``, ``counts/type/<NAME>``: the same per EVENT_CLASS / EVENT_TYPE bit
  of the events file;
* ``distribution/<COLUMN>``: Kolmogorov–Smirnov D (judged only when its p-value is below the
  significance);
* ``events/removed``, ``events/added``, ``events/changed``: fractions of the old events;
  ``events/duplicates``: events whose RUN_ID + EVENT_ID appear twice in one version (any fails);
  ``events/columns``: columns present in one version only (any warns);
* ``gti/<TYPE>``: time covered by exactly one version's GTI over the old on-time;
* ``livetime``: relative change of the total FT2 LIVETIME; ``ft2``: fraction of FT2 rows that
  differ, are missing or added.

The verdict is ``reject`` if a check fails, ``warn`` if one warns, else ``accept``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fermi_l1.validation.bits import BIT_NAMES, bit_counts, bit_name
from fermi_l1.validation.config import Config, Limits
from fermi_l1.validation.events import EventDiff, EventTable, compare_events, count_events, read_event_files
from fermi_l1.validation.selection import SelectionError, Side
from fermi_l1.validation.stats import KsResult, ks_2samp
from fermi_l1.validation.timeline import Ft2Diff, GtiDiff, compare_ft2, compare_gti

#: Verdicts and their exit codes.
EXIT_CODES = {"accept": 0, "warn": 1, "reject": 2}
_ORDER = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Check:
    """One judged number of the comparison."""

    name: str
    value: float
    status: str  # ok, warn, fail
    limits: Limits
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "group": self.name.split("/")[0], "status": self.status,
                "value": self.value, "warn": self.limits.warn, "fail": self.limits.fail,
                "detail": self.detail}  # fmt: skip


def _relative(old: float, new: float) -> float:
    return abs(new - old) / max(old, 1.0)


@dataclass
class Comparison:
    """Everything compared between ``old`` and ``new``, and the checks judging it."""

    old: Side
    new: Side
    config: Config
    counts: dict[str, tuple[int, int]]  # event file type -> (old, new) events
    bits: dict[str, dict[str, tuple[int, int]]]  # EVENT_CLASS/EVENT_TYPE -> name -> (old, new)
    ks: dict[str, KsResult]
    events: EventDiff
    gti: dict[str, GtiDiff]
    ft2: Ft2Diff
    old_events: EventTable = field(repr=False)
    new_events: EventTable = field(repr=False)
    checks: list[Check] = field(default_factory=list)
    skipped_columns: list[str] = field(default_factory=list)  # configured columns not in both files

    @property
    def verdict(self) -> str:
        """``accept``, ``warn`` or ``reject``."""
        worst = max((_ORDER[c.status] for c in self.checks), default=0)
        return ("accept", "warn", "reject")[worst]

    @property
    def exit_code(self) -> int:
        """0 accept, 1 warn, 2 reject."""
        return EXIT_CODES[self.verdict]

    @property
    def differences(self) -> list[Check]:
        """Checks that found any difference (value above 0)."""
        return [c for c in self.checks if c.value > 0]


def _judge(cmp: Comparison) -> list[Check]:
    cfg = cmp.config
    checks: list[Check] = []
    for data_type, (a, b) in cmp.counts.items():
        value = _relative(a, b)
        checks.append(Check(f"counts/{data_type}", value, cfg.counts.status(value), cfg.counts,
                            f"{a} -> {b} events ({b - a:+d})"))  # fmt: skip
    for column, names in cmp.bits.items():
        kind = "class" if column == "EVENT_CLASS" else "type"
        for name, (a, b) in names.items():
            value = _relative(a, b)
            judged = max(a, b) >= cfg.min_events
            note = "" if judged or a == b else f"; fewer than {cfg.min_events} events: not judged"
            checks.append(Check(f"counts/{kind}/{name}", value, cfg.counts.status(value) if judged else "ok",
                                cfg.counts, f"{a} -> {b} {cfg.events_product} events with {column} {name} "
                                f"({b - a:+d}){note}"))  # fmt: skip
    for column, ks in cmp.ks.items():
        significant = ks.pvalue < cfg.significance
        status = cfg.distributions.status(ks.statistic) if significant else "ok"
        note = "" if significant or ks.statistic == 0 else f", not significant (p >= {cfg.significance:g})"
        checks.append(Check(f"distribution/{column}", ks.statistic, status, cfg.distributions,
                            f"KS D = {ks.statistic:.4g}, p = {ks.pvalue:.3g} ({ks.n_old} vs {ks.n_new} values{note})"))  # fmt: skip
    ev = cmp.events
    n_old = max(ev.n_old, 1)
    for what, keys, limits in (("removed", ev.removed, cfg.removed), ("added", ev.added, cfg.added),
                               ("changed", ev.changed, cfg.changed)):  # fmt: skip
        value = keys.size / n_old
        detail = f"{keys.size} of {ev.n_old} events {what}"
        if what == "changed" and ev.changed_columns:
            detail += ": " + ", ".join(f"{c} {n}" for c, n in sorted(ev.changed_columns.items()))
        checks.append(Check(f"events/{what}", value, limits.status(value), limits, detail))
    dups = ev.duplicates_old + ev.duplicates_new
    checks.append(Check("events/duplicates", float(dups), Limits(fail=0.0).status(dups), Limits(fail=0.0),
                        f"repeated RUN_ID+EVENT_ID: {ev.duplicates_old} old, {ev.duplicates_new} new"))  # fmt: skip
    schema = ev.only_old_columns + ev.only_new_columns
    checks.append(Check("events/columns", float(len(schema)), Limits(warn=0.0).status(len(schema)), Limits(warn=0.0),
                        f"only in old: {', '.join(ev.only_old_columns) or '-'}; "
                        f"only in new: {', '.join(ev.only_new_columns) or '-'}"))  # fmt: skip
    for data_type, g in cmp.gti.items():
        checks.append(Check(f"gti/{data_type}", g.relative, cfg.gti.status(g.relative), cfg.gti,
                            f"on-time {g.old.ontime:.3f} s -> {g.new.ontime:.3f} s; only old {g.only_old.ontime:.3f} s "
                            f"in {len(g.only_old)} interval(s), only new {g.only_new.ontime:.3f} s "
                            f"in {len(g.only_new)} interval(s)"))  # fmt: skip
    f = cmp.ft2
    checks.append(Check("livetime", f.livetime_relative, cfg.livetime.status(f.livetime_relative), cfg.livetime,
                        f"{cfg.spacecraft_product} LIVETIME {f.livetime_old:.6f} s -> {f.livetime_new:.6f} s"))  # fmt: skip
    cols = ", ".join(f"{c} {v['rows']}" for c, v in sorted(f.columns.items()))
    checks.append(Check("ft2", f.fraction, cfg.ft2.status(f.fraction), cfg.ft2,
                        f"{f.n_old} -> {f.n_new} rows: {f.removed} missing, {f.added} added, {f.differing} "
                        f"differing{': ' + cols if cols else ''}"))  # fmt: skip
    return checks


def compare(old: Side, new: Side, config: Config) -> Comparison:
    """Compare the product files of two sides of the same runs and judge every check.

    Parameters
    ----------
    old, new
        The sides (:func:`fermi_l1.validation.selection.load_side`), holding every product type
        the configuration names.
    config
        Which products, columns and thresholds (:func:`fermi_l1.validation.config.load_config`).
    """
    if set(old.versions) != set(new.versions):
        raise SelectionError(
            f"the two sides cover different runs: {sorted(old.versions)} vs {sorted(new.versions)}"
        )
    counts: dict[str, tuple[int, int]] = {}
    tables: dict[str, tuple[EventTable, EventTable]] = {}
    gti: dict[str, GtiDiff] = {}
    for data_type in dict.fromkeys((config.events_product, *config.event_files)):
        a_paths = [p.path for p in old.files(data_type)]
        b_paths = [p.path for p in new.files(data_type)]
        if data_type == config.events_product:
            tables[data_type] = (read_event_files(a_paths), read_event_files(b_paths))
            counts[data_type] = (len(tables[data_type][0]), len(tables[data_type][1]))
        else:
            counts[data_type] = (sum(map(count_events, a_paths)), sum(map(count_events, b_paths)))
        gti[data_type] = compare_gti(data_type, a_paths, b_paths)
    a_ev, b_ev = tables[config.events_product]
    bits: dict[str, dict[str, tuple[int, int]]] = {}
    for column in BIT_NAMES:
        if column in a_ev.columns and column in b_ev.columns:
            ca, cb = bit_counts(a_ev.columns[column]), bit_counts(b_ev.columns[column])
            bits[column] = {
                bit_name(column, i): (int(ca[i]), int(cb[i])) for i in np.flatnonzero((ca + cb) > 0)
            }
    ks = {c: ks_2samp(a_ev.columns[c], b_ev.columns[c]) for c in config.columns
          if c in a_ev.columns and c in b_ev.columns and a_ev.columns[c].ndim == 1}  # fmt: skip
    diff = compare_events(
        a_ev, b_ev, atol=config.event_atol, rtol=config.event_rtol, max_listed=config.max_listed
    )
    sc = config.spacecraft_product
    ft2 = compare_ft2([p.path for p in old.files(sc)], [p.path for p in new.files(sc)],
                      atol=config.ft2_atol, rtol=config.ft2_rtol)  # fmt: skip
    cmp = Comparison(old, new, config, counts, bits, ks, diff, gti, ft2, a_ev, b_ev,
                     skipped_columns=[c for c in config.columns if c not in ks])  # fmt: skip
    cmp.checks = _judge(cmp)
    return cmp


def data_types(config: Config) -> list[str]:
    """Every product type the comparison reads."""
    return list(dict.fromkeys((config.events_product, *config.event_files, config.spacecraft_product)))
