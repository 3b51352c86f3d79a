"""Filling the monitoring histograms: digi per crumb (in the recon task), merit per run (in the run step).

* :func:`crumb_histograms` -- from the decoded events of one crumb: tracker strip hits per
  tower and layer, calorimeter hits and energy per log, ACD hits per tile, triggers per tower
  (GEM TKR and CAL-low tower vectors); written beside the crumb's merit file by
  :func:`write_crumb_histograms`.
* :func:`run_histograms` -- from the run's merit chunks and the sum of its crumbs' digi
  histograms: direction (THETA, PHI, zenith), energy, event class and type bits, trigger
  conditions, event and trigger rates and live fraction per time bin, and the run summary.

The per-hit loops are the kernels of :mod:`._kernels` (numba; numpy twin :mod:`._reference`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fermi_l1 import instrument as inst
from fermi_l1.digi import DigiEvents
from fermi_l1.merit import read_merit

from . import _kernels, _reference
from .histograms import Histogram, MonitorFileError, read_histograms, write_histograms

#: width (s) of the time bins of the rate and live-fraction timelines
TIME_BIN_S = 30.0
#: merit columns the run histograms read
MERIT_COLUMNS = (
    "TIME", "EVENT_ID", "LIVETIME", "ELAPSED", "GEM_CONDITIONS", "DIGI_STATUS", "THETA", "PHI",
    "ZENITH_ANGLE", "ENERGY", "EVENT_CLASS", "EVENT_TYPE",
)  # fmt: skip
N_LAYERS = 2 * inst.N_TKR_PLANES
#: ACD ids of the histogram bins: the 89 tiles then the 8 ribbons
ACD_IDS = np.concatenate([inst.ACD_TILE_IDS, inst.ACD_RIBBON_IDS]).astype(np.int64)
_ACD_INDEX = np.full(int(ACD_IDS.max()) + 1, -1, dtype=np.int64)
_ACD_INDEX[ACD_IDS] = np.arange(ACD_IDS.size)
GEM_CONDITION_NAMES = ("ROI", "TKR", "CAL_LO", "CAL_HI", "CNO", "PERIODIC", "SOLICITED", "EXTERNAL")
TOWERS = [str(t) for t in range(inst.N_TOWERS)]
LAYERS = [f"{p}{'XY'[v]}" for p in range(inst.N_TKR_PLANES) for v in range(2)]
#: hit energies are summed as multiples of this quantum (MeV, a power of two: 2**-20 MeV ~ 1 eV), so that
#: every partial sum is exact (below 2**33 MeV per log) and a run's sum of crumb sums is the same bytes
#: whatever the crumb boundaries and worker count
ENERGY_QUANTUM_MEV = 2.0**-20


def _engine(name: str) -> ModuleType:
    if name == "numba":
        return _kernels
    if name == "numpy":
        return _reference
    raise ValueError(f"engine={name!r}: use 'numba' or 'numpy'")


def _index_edges(n: int) -> np.ndarray:
    return np.arange(n + 1, dtype=np.float64) - 0.5


def _digi_hist(name: str, counts: np.ndarray, axes: Sequence[str], labels: Mapping[str, list[str]],
               title: str, unit: str = "hits") -> Histogram:  # fmt: skip
    return Histogram(name, [_index_edges(n) for n in counts.shape], counts,
                     {"axes": list(axes), "labels": dict(labels), "title": title, "unit": unit, "kind": "counts",
                      "source": "digi"})  # fmt: skip


def crumb_histograms(digi: DigiEvents, *, engine: str = "numba") -> dict[str, Histogram]:
    """The digi histograms of one crumb of decoded events.

    Parameters
    ----------
    digi
        Decoded events (events with a decoder status have no hits and are not counted as triggers).
    engine
        ``numba`` (the kernels) or ``numpy`` (the reference twin).
    """
    k = _engine(engine)
    tkr = np.zeros((inst.N_TOWERS, N_LAYERS), dtype=np.int64)
    k.fill_tracker(digi.tkr_tower, digi.tkr_plane, digi.tkr_view, tkr)
    shape = (inst.N_TOWERS, inst.N_CAL_LAYERS, inst.N_CAL_COLUMNS)
    cal_hits, cal_e = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.float64)
    energy = np.rint(np.asarray(digi.cal_energy, dtype=np.float64) / ENERGY_QUANTUM_MEV) * ENERGY_QUANTUM_MEV
    k.fill_calorimeter(digi.cal_tower, digi.cal_layer, digi.cal_column, energy, cal_hits, cal_e)
    acd = np.zeros(ACD_IDS.size, dtype=np.int64)
    k.fill_acd(digi.acd_id, _ACD_INDEX, acd)
    status = np.ascontiguousarray(digi.status, dtype=np.int32)
    trig_tkr = np.zeros(inst.N_TOWERS, dtype=np.int64)
    trig_cal = np.zeros(inst.N_TOWERS, dtype=np.int64)
    k.fill_tower_bits(digi.header["gem_tkr_vector"], status, trig_tkr)
    k.fill_tower_bits(digi.header["gem_cal_le_vector"], status, trig_cal)
    cal_axes, cal_labels = ("tower", "layer", "log"), {"tower": TOWERS}
    acd_labels = {"tile": [str(i) for i in ACD_IDS.tolist()]}
    return {
        "tkr_hits": _digi_hist(
            "tkr_hits",
            tkr,
            ("tower", "layer"),
            {"tower": TOWERS, "layer": LAYERS},
            "Tracker strip hits per tower and layer",
        ),
        "cal_hits": _digi_hist("cal_hits", cal_hits, cal_axes, cal_labels, "Calorimeter hits per log"),
        "cal_energy": _digi_hist(
            "cal_energy", cal_e, cal_axes, cal_labels, "Calorimeter energy per log", "MeV"
        ),
        "acd_hits": _digi_hist("acd_hits", acd, ("tile",), acd_labels, "ACD hits per tile and ribbon"),
        "trigger_tower_tkr": _digi_hist(
            "trigger_tower_tkr",
            trig_tkr,
            ("tower",),
            {"tower": TOWERS},
            "Events with the TKR trigger of each tower",
            "events",
        ),
        "trigger_tower_cal_lo": _digi_hist(
            "trigger_tower_cal_lo",
            trig_cal,
            ("tower",),
            {"tower": TOWERS},
            "Events with the CAL-low trigger of each tower",
            "events",
        ),
    }


def crumb_histogram_path(merit_path: str | os.PathLike[str]) -> Path:
    """Where the digi histograms of a crumb go: beside its merit file (``c0000-k000.monitor.parquet``)."""
    p = Path(merit_path)
    return p.with_name(p.name.removesuffix(".parquet") + ".monitor.parquet")


def write_crumb_histograms(merit_path: str | os.PathLike[str], digi: DigiEvents) -> Path:
    """Fill the digi histograms of a crumb and write them beside its merit file (atomic)."""
    summary = {"n_events": int(digi.n_events), "n_bad": int(np.count_nonzero(digi.status))}
    return write_histograms(crumb_histogram_path(merit_path), crumb_histograms(digi), summary)


def sum_crumbs(paths: Sequence[str | os.PathLike[str]]) -> tuple[dict[str, Histogram], dict[str, int]]:
    """Sum the digi histograms of several crumbs: ``(histograms, {n_events, n_bad, n_crumbs})``."""
    total: dict[str, Histogram] = {}
    summary = {"n_events": 0, "n_bad": 0, "n_crumbs": 0}
    for p in sorted(str(x) for x in paths):
        hists, s = read_histograms(p)
        for name, h in hists.items():
            if name in total:
                total[name].counts = total[name].counts + h.counts
            else:
                total[name] = h
        summary["n_events"] += int(s.get("n_events", 0))
        summary["n_bad"] += int(s.get("n_bad", 0))
        summary["n_crumbs"] += 1
    return total, summary


def _hist1(name: str, values: np.ndarray, edges: np.ndarray, axis: str, title: str, unit: str = "events",
           weights: np.ndarray | None = None) -> Histogram:  # fmt: skip
    counts, _ = np.histogram(values, bins=edges, weights=weights)
    return Histogram(name, [edges], counts, {"axes": [axis], "title": title, "unit": unit, "kind": "counts",
                                             "source": "merit"})  # fmt: skip


def _bit_counts(
    name: str, values: np.ndarray, n_bits: int, title: str, names: Sequence[str] | None = None
) -> Histogram:
    v = np.asarray(values, dtype=np.int64)
    counts = np.array([np.count_nonzero((v >> b) & 1) for b in range(n_bits)], dtype=np.float64)
    labels = {"bit": list(names) if names else [str(b) for b in range(n_bits)]}
    return Histogram(name, [_index_edges(n_bits)], counts,
                     {"axes": ["bit"], "labels": labels, "title": title, "unit": "events", "kind": "counts",
                      "source": "merit"})  # fmt: skip


def run_histograms(
    merit_chunks: Sequence[str | os.PathLike[str]],
    start: float,
    stop: float,
    crumb_files: Sequence[str | os.PathLike[str]] = (),
) -> tuple[dict[str, Histogram], dict[str, Any]]:
    """All histograms of one run version and its summary.

    Parameters
    ----------
    merit_chunks
        The run's merit chunk files (the run input folder's ``merit/``).
    start, stop
        The run's span (MET s): edges of the timelines.
    crumb_files
        The digi histogram files of the run's crumbs (:func:`write_crumb_histograms`). When they
        are missing, or do not hold the events the merit holds, the digi histograms are left out
        and ``summary["digi"]`` says why (their checks are then reported as skipped).

    Returns
    -------
    (histograms, summary)
        ``summary``: ``n_events``, ``span_s``, ``livetime_s``, ``livetime_fraction``,
        ``event_rate_hz``, ``trigger_rate_hz``, ``triggers``, ``missing_merit_columns`` (left out: a
        hand-made run input), ``digi`` (``complete`` or the reason not).
    """
    names = set(MERIT_COLUMNS)
    for c in merit_chunks:
        try:
            names &= set(pq.read_schema(c).names)
        except (OSError, pa.ArrowException):
            pass  # read_merit below names the file and the reason
    parts = [read_merit(c, columns=[n for n in MERIT_COLUMNS if n in names]) for c in merit_chunks]
    m = {c: np.concatenate([p[c] for p in parts]) for c in MERIT_COLUMNS if c in names}
    n = int(m["TIME"].size)
    missing = [c for c in MERIT_COLUMNS if c not in names]
    for c, fill in (("DIGI_STATUS", 0), ("GEM_CONDITIONS", 0), ("ELAPSED", np.nan)):
        if c not in m:  # merit of a hand-made run input: what needs the column is left out
            m[c] = np.full(n, fill)
    hists: dict[str, Histogram] = {}
    good = m["DIGI_STATUS"] == 0
    hists["theta"] = _hist1("theta", m["THETA"][good], np.linspace(0, 180, 91), "THETA (deg)",
                            "Reconstructed inclination THETA")  # fmt: skip
    hists["phi"] = _hist1(
        "phi", m["PHI"][good], np.linspace(0, 360, 37), "PHI (deg)", "Reconstructed azimuth PHI"
    )
    hists["zenith"] = _hist1("zenith", m["ZENITH_ANGLE"][good], np.linspace(0, 180, 91), "zenith angle (deg)",
                             "Reconstructed zenith angle")  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        loge = np.log10(np.where(m["ENERGY"] > 0, m["ENERGY"], np.nan))
    hists["log_energy"] = _hist1("log_energy", loge[good & np.isfinite(loge)], np.linspace(0.0, 6.0, 61),
                                 "log10(ENERGY / MeV)", "Reconstructed energy")  # fmt: skip
    hists["event_class"] = _bit_counts("event_class", m["EVENT_CLASS"], 18, "Events per EVENT_CLASS bit")
    hists["event_type"] = _bit_counts("event_type", m["EVENT_TYPE"], 10, "Events per EVENT_TYPE bit",
                                      ["FRONT", "BACK", "PSF0", "PSF1", "PSF2", "PSF3",
                                       "EDISP0", "EDISP1", "EDISP2", "EDISP3"])  # fmt: skip
    if "GEM_CONDITIONS" not in missing:
        hists["trigger_type"] = _bit_counts("trigger_type", m["GEM_CONDITIONS"], 8,
                                            "Events per GEM trigger condition", GEM_CONDITION_NAMES)  # fmt: skip
    n_bins = max(1, int(np.ceil((stop - start) / TIME_BIN_S)))
    t_edges = start + TIME_BIN_S * np.arange(n_bins + 1, dtype=np.float64)
    t_edges[-1] = stop
    if n_bins > 1 and stop - t_edges[-2] < 0.5 * TIME_BIN_S:  # no short last bin: fold it into the one before
        t_edges = np.delete(t_edges, -2)
        n_bins -= 1
    rel = t_edges - start
    width = np.diff(t_edges)
    ev, _ = np.histogram(m["TIME"], bins=t_edges)
    order = np.argsort(m["TIME"], kind="stable")
    t, gem = m["TIME"][order], m["EVENT_ID"][order].astype(np.int64)
    live, elapsed = m["LIVETIME"][order], m["ELAPSED"][order]
    idx = np.searchsorted(t, t_edges)
    trig = np.zeros(n_bins)
    frac = np.full(n_bins, np.nan)
    for b in range(n_bins):
        lo, hi = idx[b], idx[b + 1]
        if hi - lo >= 2:
            trig[b] = gem[hi - 1] - gem[lo]
            de = elapsed[hi - 1] - elapsed[lo]
            frac[b] = (live[hi - 1] - live[lo]) / de if de > 0 else np.nan
    timeline = {"axes": ["time since run start (s)"], "kind": "profile", "source": "merit"}
    hists["event_rate"] = Histogram("event_rate", [rel], ev / width,
                                    {**timeline, "title": "Downlinked event rate", "unit": "Hz"})  # fmt: skip
    hists["trigger_rate"] = Histogram("trigger_rate", [rel], trig / width,
                                      {**timeline, "title": "Trigger rate (GEM sequence)", "unit": "Hz"})  # fmt: skip
    hists["livetime_fraction"] = Histogram("livetime_fraction", [rel], frac,
                                           {**timeline, "title": "Live-time fraction", "unit": ""})  # fmt: skip
    span = float(t[-1] - t[0]) if n >= 2 else 0.0
    de = float(elapsed[-1] - elapsed[0]) if n >= 2 else 0.0
    livetime = float(live[-1] - live[0]) if n >= 2 else 0.0
    triggers = int(gem[-1] - gem[0] + 1) if n else 0
    summary: dict[str, Any] = {
        "n_events": n,
        "span_s": span,
        "livetime_s": livetime,
        "livetime_fraction": livetime / de if de > 0 else None,
        "event_rate_hz": n / span if span > 0 else None,
        "triggers": triggers,
        "trigger_rate_hz": triggers / span if span > 0 else None,
        "missing_merit_columns": missing,
    }
    digi, why = _run_digi(crumb_files, n)
    summary["digi"] = why
    if digi is not None:
        hists.update(digi)
        e, h = digi["cal_energy"].counts, digi["cal_hits"]
        layer = Histogram("cal_energy_layer", [_index_edges(inst.N_TOWERS), _index_edges(inst.N_CAL_LAYERS)],
                          e.sum(axis=2), {"axes": ["tower", "layer"], "labels": {"tower": TOWERS},
                                          "title": "Calorimeter energy per tower and layer", "unit": "MeV",
                                          "kind": "counts", "source": "digi"})  # fmt: skip
        hists["cal_energy_layer"] = layer
        hists["cal_hits_layer"] = Histogram("cal_hits_layer", layer.edges, h.counts.sum(axis=2),
                                            {**layer.meta, "title": "Calorimeter hits per tower and layer",
                                             "unit": "hits"})  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(h.counts > 0, e / h.counts, 0.0)
        hists["cal_mean_energy"] = Histogram("cal_mean_energy", h.edges, mean,
                                             {**h.meta, "title": "Mean energy per calorimeter hit", "unit": "MeV",
                                              "kind": "profile"})  # fmt: skip
    return hists, summary


def _run_digi(
    crumb_files: Sequence[str | os.PathLike[str]], n_events: int
) -> tuple[dict[str, Histogram] | None, str]:
    if not crumb_files:
        return None, "no crumb histograms (a run input made without the recon task)"
    try:
        digi, s = sum_crumbs(crumb_files)
    except MonitorFileError as exc:
        return None, f"unreadable crumb histograms ({exc})"
    if s["n_events"] != n_events:
        return None, f"crumb histograms hold {s['n_events']} events, the merit {n_events}"
    return digi, "complete"
