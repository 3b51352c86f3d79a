"""Input functions of trending: each returns a :class:`Series` (or per-tower arrays) from raw data.

Conventions (isoc.md): tower id = column + 4·row, 16 towers; 36 tracker planes × 1536 strips per
tower; 8 layers × 12 CsI logs per tower (1536 crystals). Rates from counters are Δcounter/Δt
with counter resets (reboots) and wraps handled here, never downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.stats import sigma_clipped_stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_ingest.models import Delivery
from fermi_isoc.models import MetricSample
from fermi_sciencetools_shim.io.ft2 import read_ft2

N_TOWERS = 16
STRIPS_PER_TOWER = 36 * 1536
CRYSTALS_PER_TOWER = 8 * 12
#: Bytes recorded on the SSR per LAT packet.
LAT_PACKET_BYTES = 1088


@dataclass(frozen=True)
class Series:
    """A time series: MET (start of each interval or sample time) and values."""

    quantity: str
    met: np.ndarray
    value: np.ndarray
    key: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        if np.shape(self.met) != np.shape(self.value):
            raise ValueError(f"{self.quantity}: {np.size(self.met)} times but {np.size(self.value)} values")


def livetime_fraction_from_ft2(path: str | Path) -> Series:
    """Livetime fraction of each FT2 row: LIVETIME / (STOP − START)."""
    t = read_ft2(path)
    start = np.asarray(t["START"], dtype=np.float64)
    dur = np.asarray(t["STOP"], dtype=np.float64) - start
    if np.any(dur <= 0):
        bad = int(np.flatnonzero(dur <= 0)[0])
        raise ValueError(f"{path}: SC_DATA row {bad} has STOP <= START")
    return Series(
        "livetime_fraction", start, np.asarray(t["LIVETIME"], dtype=np.float64) / dur, key=Path(path).name
    )


def _unwrapped_increments(counter: np.ndarray, modulus: int | None) -> np.ndarray:
    """Increments of a counter between samples: wraps add ``modulus``; a reset restarts from 0."""
    counter = np.asarray(counter, dtype=np.int64)
    delta = np.diff(counter)
    back = delta < 0
    if modulus is not None:
        delta[back] += modulus  # a 16-bit packet counter wraps
    else:
        delta[back] = counter[1:][back]  # a reboot resets the counter: count since the reset
    return delta


def trigger_rate_from_counters(met: np.ndarray, gem_sent: np.ndarray) -> Series:
    """Trigger rate (Hz) from the GEM 'sent' counter sampled at ``met``; resets handled."""
    met = np.asarray(met, dtype=np.float64)
    if met.size < 2 or np.any(np.diff(met) <= 0):
        raise ValueError("trigger rate: need at least 2 samples in strictly increasing time")
    rate = _unwrapped_increments(gem_sent, None) / np.diff(met)
    return Series("trigger_rate_hz", met[:-1], rate, unit="Hz")


def ssr_usage_from_packet_counter(met: np.ndarray, packet_counter: np.ndarray) -> Series:
    """SSR usage rate (bit/s) from the 16-bit LAT packet counter: Δpackets × 1088 bytes × 8 / Δt."""
    met = np.asarray(met, dtype=np.float64)
    if met.size < 2 or np.any(np.diff(met) <= 0):
        raise ValueError("SSR usage: need at least 2 samples in strictly increasing time")
    bits = _unwrapped_increments(packet_counter, 1 << 16) * LAT_PACKET_BYTES * 8
    return Series("ssr_usage_bps", met[:-1], bits / np.diff(met), unit="bit/s")


def downlink_from_deliveries(session: Session, met_start: float, met_stop: float) -> Series:
    """Bytes of each delivery whose **data** overlap ``[met_start, met_stop)`` (not its receive time).

    A delivery's data span is its first to last packet time (``met_start``..``met_stop`` of the
    delivery); a delivery received on Friday with Thursday's data belongs to Thursday's week, and
    one whose data straddle the boundary counts in both weeks. The sample time is the start of
    the delivery's data within the window.
    """
    rows = session.execute(
        select(Delivery.met_start, Delivery.n_bytes)
        .where(Delivery.met_start.is_not(None), Delivery.met_start < met_stop, Delivery.met_stop >= met_start)
        .order_by(Delivery.met_start)
    ).all()
    met = np.array([max(float(r[0]), met_start) for r in rows], dtype=np.float64)
    size = np.array([r[1] for r in rows], dtype=np.float64)
    return Series("downlink_bytes", met, size, unit="byte")


def bad_strips_per_tower(met: float, bad_strip_ids: dict[int, np.ndarray]) -> np.ndarray:
    """Bad-strip counts per tower (16,) from lists of strip indices (0..55295) per tower id."""
    counts = np.zeros(N_TOWERS, dtype=np.int64)
    for tower, strips in bad_strip_ids.items():
        if not 0 <= tower < N_TOWERS:
            raise ValueError(f"bad strips: tower id {tower} outside 0..15")
        strips = np.unique(np.asarray(strips, dtype=np.int64))
        if strips.size and (strips.min() < 0 or strips.max() >= STRIPS_PER_TOWER):
            raise ValueError(f"bad strips: tower {tower} has a strip index outside 0..{STRIPS_PER_TOWER - 1}")
        counts[tower] = strips.size
    return counts


def tower_grid(per_tower: np.ndarray) -> np.ndarray:
    """The 16 per-tower values as the 4×4 grid ``[row, column]`` (tower = column + 4·row)."""
    per_tower = np.asarray(per_tower)
    if per_tower.shape != (N_TOWERS,):
        raise ValueError(f"tower grid: expected 16 values, got shape {per_tower.shape}")
    return per_tower.reshape(4, 4)


def cal_light_output(gains: np.ndarray, sigma: float = 3.0) -> tuple[float, np.ndarray]:
    """Sigma-clipped mean MeV-per-DAC gain over the 1536 crystals, and per tower (16,).

    ``gains`` has shape (1536,) ordered tower-major (tower · 96 + layer · 12 + log).
    """
    gains = np.asarray(gains, dtype=np.float64)
    if gains.shape != (N_TOWERS * CRYSTALS_PER_TOWER,):
        raise ValueError(f"calorimeter gains: expected 1536 values, got shape {gains.shape}")
    overall = sigma_clipped_stats(gains, sigma=sigma)[0]
    per_tower = np.array(
        [sigma_clipped_stats(g, sigma=sigma)[0] for g in gains.reshape(N_TOWERS, CRYSTALS_PER_TOWER)]
    )
    return float(overall), per_tower


def yearly_rate(series: Series) -> float:
    """Relative change per year of a slowly drifting series, from a straight-line fit."""
    if series.met.size < 2:
        raise ValueError(f"{series.quantity}: need at least 2 points for a rate")
    years = (series.met - series.met[0]) / (365.25 * 86400.0)
    slope, intercept = np.polyfit(years, series.value, 1)
    return float(slope / intercept)


def record(session: Session, series: Series, source: str = "") -> int:
    """Store a series as ``isoc_metric_sample`` rows (alarms and reports read them); returns the count."""
    session.add_all(
        MetricSample(quantity=series.quantity, key=series.key, met=float(t), value=float(v), source=source)
        for t, v in zip(series.met, series.value, strict=True)
    )
    session.flush()
    return int(series.met.size)


def samples(session: Session, quantity: str, met_start: float, met_stop: float) -> dict[str, Series]:
    """Stored samples of ``quantity`` in ``[met_start, met_stop)``, one series per key."""
    rows = session.execute(
        select(MetricSample.key, MetricSample.met, MetricSample.value)
        .where(MetricSample.quantity == quantity, MetricSample.met >= met_start, MetricSample.met < met_stop)
        .order_by(MetricSample.key, MetricSample.met)
    ).all()
    out: dict[str, list[tuple[float, float]]] = {}
    for key, met, value in rows:
        out.setdefault(key, []).append((met, value))
    return {
        k: Series(quantity, np.array([m for m, _ in v]), np.array([x for _, x in v]), key=k)
        for k, v in out.items()
    }
