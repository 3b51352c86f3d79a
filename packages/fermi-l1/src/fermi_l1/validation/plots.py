"""The plots of the validation report (matplotlib, Agg backend, PNG written atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fermi_core.atomic import atomic_output
from fermi_l1.validation.stats import KsResult
from fermi_l1.validation.timeline import Ft2Diff, GtiDiff

_OLD = {"color": "tab:blue", "lw": 1.4}
_NEW = {"color": "tab:orange", "lw": 1.4, "ls": "--"}


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def _bins(a: np.ndarray, b: np.ndarray, log: bool) -> np.ndarray:
    both = np.concatenate([a, b])
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        return np.array([lo - 0.5, hi + 0.5])
    if log:
        return np.geomspace(lo, hi, 41)
    if np.all(both == np.round(both)) and hi - lo <= 40:  # integer-valued column: one bin per value
        return np.arange(lo - 0.5, hi + 1.5)
    return np.linspace(lo, hi, 41)


def distribution_plot(
    column: str,
    old: np.ndarray,
    new: np.ndarray,
    unit: str | None,
    ks: KsResult,
    labels: tuple[str, str],
    path: Path,
) -> Path:
    """Histograms of ``column`` in both versions (same bins; log bins for a positive ENERGY)."""
    a = np.asarray(old, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    fig.subplots_adjust(left=0.13, right=0.97, top=0.86, bottom=0.15)
    hidden = (0, 0)
    if column == "ENERGY" and a.size + b.size:  # log bins over the positive energies
        both = np.concatenate([a, b])
        positive = both[both > 0]
        if positive.size and positive.max() > 100 * positive.min():
            hidden = (int(np.count_nonzero(a <= 0)), int(np.count_nonzero(b <= 0)))
            a, b = a[a > 0], b[b > 0]
    if a.size + b.size:
        log = column == "ENERGY" and float(np.concatenate([a, b]).min()) > 0
        edges = _bins(a, b, log)
        ax.stairs(np.histogram(a, edges)[0], edges, label=f"{labels[0]} ({a.size})", **_OLD)
        ax.stairs(np.histogram(b, edges)[0], edges, label=f"{labels[1]} ({b.size})", **_NEW)
        if log:
            ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax.set_ylabel("events per bin")
    ax.set_xlabel(f"{column} ({unit})" if unit else column)
    note = f"\nnot shown: {hidden[0]} / {hidden[1]} values <= 0" if any(hidden) else ""
    ax.set_title(f"{column}: KS D = {ks.statistic:.3g}, p = {ks.pvalue:.3g}{note}", fontsize=10)
    return _save(fig, path)


def counts_plot(bits: dict[str, dict[str, tuple[int, int]]], labels: tuple[str, str], path: Path) -> Path:
    """Events per EVENT_CLASS and EVENT_TYPE bit in both versions (horizontal bars)."""
    rows = [(f"{'class' if col == 'EVENT_CLASS' else 'type'} {name}", a, b)
            for col, names in bits.items() for name, (a, b) in names.items()]  # fmt: skip
    height = 0.28 * max(len(rows), 4) + 1.0
    fig, ax = plt.subplots(figsize=(6.4, height))
    fig.subplots_adjust(left=0.3, right=0.97, top=1 - 0.45 / height, bottom=0.5 / height)
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r[1] for r in rows], height=0.4, color=_OLD["color"], label=labels[0])
    ax.barh(y + 0.2, [r[2] for r in rows], height=0.4, color=_NEW["color"], label=labels[1])
    ax.set_yticks(y, [r[0] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("events")
    ax.set_title("events per event class and event type bit", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def gti_plot(gtis: dict[str, GtiDiff], labels: tuple[str, str], path: Path) -> Path:
    """Good time intervals of both versions per event file type; time in one version only in red."""
    height = 0.5 * max(2 * len(gtis), 2) + 1.2
    fig, ax = plt.subplots(figsize=(7.2, height))
    fig.subplots_adjust(left=0.24, right=0.97, top=1 - 0.45 / height, bottom=0.6 / height)
    ticks, names = [], []
    t0 = min((g.old.tmin for g in gtis.values() if len(g.old)), default=0.0)
    for i, (data_type, g) in enumerate(gtis.items()):
        for j, (label, gti, only) in enumerate(
            ((labels[0], g.old, g.only_old), (labels[1], g.new, g.only_new))
        ):
            y = 2 * i + j
            ax.broken_barh(list(zip(gti.start - t0, gti.stop - gti.start, strict=True)), (y - 0.35, 0.7),
                           color=(_OLD if j == 0 else _NEW)["color"])  # fmt: skip
            if len(only):
                ax.broken_barh(list(zip(only.start - t0, only.stop - only.start, strict=True)), (y - 0.35, 0.7),
                               color="red")  # fmt: skip
            ticks.append(y)
            names.append(f"{data_type} {label}")
    ax.set_yticks(ticks, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"time since MET {t0:.1f} (s)")
    ax.set_title("GTI (red: time in this version only)", fontsize=10)
    return _save(fig, path)


def livetime_plot(ft2: Ft2Diff, labels: tuple[str, str], unit: str, path: Path) -> Path:
    """FT2 LIVETIME per matched row in both versions, and the difference."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 4.2), sharex=True, gridspec_kw={"height_ratios": (3, 1)}
    )
    fig.subplots_adjust(left=0.14, right=0.97, top=0.92, bottom=0.12, hspace=0.08)
    t0 = float(ft2.start[0]) if ft2.start.size else 0.0
    a, b = ft2.livetime_pair
    top.plot(ft2.start - t0, a, ".", ms=3, color=_OLD["color"], label=labels[0])
    top.plot(ft2.start - t0, b, "x", ms=3, color=_NEW["color"], label=labels[1])
    top.set_ylabel(f"LIVETIME per row ({unit})")
    top.legend(fontsize=8)
    top.set_title(f"FT2 livetime: {ft2.livetime_old:.3f} s -> {ft2.livetime_new:.3f} s", fontsize=10)
    bottom.plot(ft2.start - t0, b - a, ".", ms=3, color="black")
    bottom.set_ylabel(f"new - old ({unit})")
    bottom.set_xlabel(f"row START since MET {t0:.1f} (s)")
    return _save(fig, path)
