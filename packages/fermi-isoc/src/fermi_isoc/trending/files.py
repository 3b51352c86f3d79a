"""Documented input files of trending: calorimeter calibrations and SSR housekeeping counters.

The simulated telemetry carries neither (no LAT housekeeping APID, no proton calibration runs),
so these quantities enter from files an operator (or a later feed) provides; the formats are
documented in ``docs/operations/instrument-rates.md`` and here.

**Calorimeter light output** (``fermi-isoc trend cal FILE``), CSV with header
``utc,tower,layer,log,mev_per_dac_large,mev_per_dac_small``: one row per CsI crystal of a proton
calibration (tower 0..15, layer 0..7, log 0..11), all 1536 crystals of each calibration, UTC ISO
time of the calibration. Recorded per calibration: ``cal_mev_per_dac`` (large diode) and
``cal_mev_per_dac_small`` (small diode), the sigma-clipped mean per tower (key ``tower N``) and
over all crystals (key ``all crystals``); rising values mean falling light yield.

**SSR usage** (``fermi-isoc trend ssr FILE``), CSV with header ``utc,lat_packet_counter``: the
16-bit LAT packet counter of spacecraft housekeeping sampled in time order (UTC ISO or MET
seconds in the ``utc`` column). Recorded: ``ssr_usage_bps`` = Δ(counter, wraps add 65536) × 1088
bytes × 8 / Δt per sample interval.

A file is recorded once: its samples carry the source ``<kind>:<name>@<sha256 prefix>``, and the
same bytes given again add nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.checksum import sha256_file
from fermi_core.errors import BadInput
from fermi_isoc.models import MetricSample
from fermi_isoc.trending.inputs import (
    CRYSTALS_PER_TOWER,
    N_TOWERS,
    Series,
    cal_light_output,
    record,
    ssr_usage_from_packet_counter,
)
from fermi_sciencetools_shim.time import utc_to_met

CAL_COLUMNS = ("utc", "tower", "layer", "log", "mev_per_dac_large", "mev_per_dac_small")
SSR_COLUMNS = ("utc", "lat_packet_counter")


class TrendFileError(BadInput, ValueError):
    """A trending input file that cannot be used: file, line and reason."""


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrendFileError(f"{path}: cannot read: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or tuple(h.strip() for h in reader.fieldnames) != columns:
        raise TrendFileError(f"{path}: line 1: header must be {','.join(columns)}")
    rows = [(n, {k.strip(): (v or "").strip() for k, v in r.items()}) for n, r in enumerate(reader, start=2)]
    if not rows:
        raise TrendFileError(f"{path}: no data rows")
    return rows


def _met(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(utc_to_met(text))
    except ValueError as exc:
        raise TrendFileError(f"{where}: time {text!r} is neither MET seconds nor UTC ISO") from exc


def _int(text: str, where: str, name: str, hi: int) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise TrendFileError(f"{where}: {name} {text!r} is not an integer") from exc
    if not 0 <= value < hi:
        raise TrendFileError(f"{where}: {name} {value} outside 0..{hi - 1}")
    return value


def _float(text: str, where: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise TrendFileError(f"{where}: {name} {text!r} is not a number") from exc
    if not np.isfinite(value) or value <= 0:
        raise TrendFileError(f"{where}: {name} must be finite and > 0, got {text}")
    return value


def read_cal_calibrations(path: str | Path) -> list[Series]:
    """Per-tower and overall MeV/DAC series (both diodes) of a calibration file (see the module)."""
    path = Path(path)
    gains: dict[float, dict[str, np.ndarray]] = {}
    seen: dict[float, set[int]] = {}
    for n, r in _rows(path, CAL_COLUMNS):
        where = f"{path}: line {n}"
        met = _met(r["utc"], where)
        tower = _int(r["tower"], where, "tower", N_TOWERS)
        crystal = (
            tower * CRYSTALS_PER_TOWER
            + _int(r["layer"], where, "layer", 8) * 12
            + _int(r["log"], where, "log", 12)
        )
        if crystal in seen.setdefault(met, set()):
            raise TrendFileError(
                f"{where}: crystal T{tower} L{r['layer']} log {r['log']} given twice for {r['utc']}"
            )
        seen[met].add(crystal)
        g = gains.setdefault(met, {"large": np.full(1536, np.nan), "small": np.full(1536, np.nan)})
        g["large"][crystal] = _float(r["mev_per_dac_large"], where, "mev_per_dac_large")
        g["small"][crystal] = _float(r["mev_per_dac_small"], where, "mev_per_dac_small")
    out: list[Series] = []
    for quantity, diode in (("cal_mev_per_dac", "large"), ("cal_mev_per_dac_small", "small")):
        per_key: dict[str, list[tuple[float, float]]] = {}
        for met in sorted(gains):
            if len(seen[met]) != N_TOWERS * CRYSTALS_PER_TOWER:
                raise TrendFileError(
                    f"{path}: calibration at MET {met:.0f} has {len(seen[met])} of 1536 crystals"
                )
            overall, per_tower = cal_light_output(gains[met][diode])
            per_key.setdefault("all crystals", []).append((met, overall))
            for t in range(N_TOWERS):
                per_key.setdefault(f"tower {t}", []).append((met, float(per_tower[t])))
        out += [
            Series(quantity, np.array([m for m, _ in v]), np.array([x for _, x in v]), key=k, unit="MeV/DAC")
            for k, v in per_key.items()
        ]
    return out


def read_ssr_counters(path: str | Path) -> Series:
    """SSR usage (bit/s) from a housekeeping packet-counter file (see the module)."""
    path = Path(path)
    met, counter = [], []
    for n, r in _rows(path, SSR_COLUMNS):
        where = f"{path}: line {n}"
        met.append(_met(r["utc"], where))
        value = _int(r["lat_packet_counter"], where, "lat_packet_counter", 1 << 16)
        counter.append(value)
        if len(met) > 1 and met[-1] <= met[-2]:
            raise TrendFileError(f"{where}: time {r['utc']} is not after the previous sample")
    try:
        return ssr_usage_from_packet_counter(np.array(met), np.array(counter))
    except ValueError as exc:
        raise TrendFileError(f"{path}: {exc}") from exc


def record_file(session: Session, kind: str, path: str | Path) -> dict[str, int]:
    """Record a ``cal`` or ``ssr`` file's samples once; returns samples recorded per quantity (empty if known)."""
    path = Path(path)
    if kind not in ("cal", "ssr"):
        raise ValueError(f"trend file kind must be 'cal' or 'ssr', got {kind!r}")
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise TrendFileError(f"{path}: cannot read: {exc}") from exc
    source = f"{kind}file:{path.name}@{digest[:16]}"
    if session.scalar(select(MetricSample.id).where(MetricSample.source == source).limit(1)) is not None:
        return {}
    series = read_cal_calibrations(path) if kind == "cal" else [read_ssr_counters(path)]
    counts: dict[str, int] = {}
    for s in series:
        counts[s.quantity] = counts.get(s.quantity, 0) + record(session, s, source)
    return counts
