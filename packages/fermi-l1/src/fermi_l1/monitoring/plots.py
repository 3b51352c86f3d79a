"""PNG plots of one run version's monitoring histograms (matplotlib, Agg backend, no display needed).

:func:`make_plots` writes five figures into a folder: ``tracker.png`` (strip hits per tower and
layer), ``calorimeter.png`` (energy per tower and layer, ACD hits per tile), ``directions.png``
(THETA, PHI, zenith, energy, with the reference run's shapes when there is one), ``rates.png``
(event and trigger rates and live fraction against time) and ``classes.png`` (event class,
event type and trigger condition counts). Failed checks are written in the figures' titles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fermi_core.atomic import atomic_output

from .histograms import Histogram

PLOTS = ("tracker.png", "calorimeter.png", "directions.png", "rates.png", "classes.png")


def _save(fig: Any, path: Path) -> Path:
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.14, top=0.86, wspace=0.3, hspace=0.35)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})
    return path


def _heat(ax: Any, h: Histogram, xlabel: str, ylabel: str, cbar: str) -> None:
    im = ax.imshow(h.counts.T, origin="lower", aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.colorbar(im, ax=ax, label=cbar)


def _step(ax: Any, h: Histogram, ref: Histogram | None, label: str) -> None:
    e = h.edges[0]
    tot = h.total if h.total > 0 else 1.0
    ax.stairs(h.counts / tot, e, label="this run", color="C0")
    if ref is not None and ref.counts.shape == h.counts.shape and ref.total > 0:
        ax.stairs(ref.counts / ref.total, e, label="reference", color="C1", linestyle="--")
        ax.legend(fontsize=8)
    ax.set_xlabel(label)
    ax.set_ylabel("fraction of events")


def _bars(ax: Any, h: Histogram, title: str) -> None:
    labels = (h.meta.get("labels") or {}).get("bit") or [str(i) for i in range(h.counts.size)]
    ax.bar(np.arange(h.counts.size), h.counts, color="C0")
    ax.set_xticks(np.arange(h.counts.size), labels, rotation=60, fontsize=7)
    ax.set_ylabel("events")
    ax.set_title(title, fontsize=9)


def make_plots(
    folder: str | os.PathLike[str],
    title: str,
    hists: Mapping[str, Histogram],
    reference: Mapping[str, Histogram] | None = None,
    failed: Sequence[Mapping[str, Any]] = (),
) -> list[Path]:
    """Write the run version's PNG plots into ``folder``; return their paths (atomic, one file each).

    Parameters
    ----------
    folder
        Where the PNGs go (:meth:`fermi_core.site.Site.monitor_plot_dir`).
    title
        Heading of every figure (run and version).
    hists, reference
        The run's histograms and the reference run's (overlaid on the direction plots).
    failed
        The failed checks; each figure names those of its quantities.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    ref = reference or {}

    def heading(fig: Any, names: Sequence[str]) -> None:
        bad = [f"{f['severity'].upper()}: {f['quantity']} {f['check']} ({f['element']})"
               for f in failed if f["quantity"] in names]  # fmt: skip
        fig.suptitle(title + ("\n" + "; ".join(bad[:3]) if bad else ""), fontsize=10,
                     color="firebrick" if bad else "black")  # fmt: skip

    paths = []
    fig = Figure(figsize=(9, 5))
    ax = fig.add_subplot()
    if "tkr_hits" in hists:
        h = hists["tkr_hits"]
        _heat(ax, h, "tower", "layer (2 x plane + view; 0 = top X)", "strip hits")
        ax.set_xticks(np.arange(h.counts.shape[0]))
    else:
        ax.text(0.5, 0.5, "no digi histograms for this run", ha="center", transform=ax.transAxes)
    heading(fig, ["tkr_hits"])
    paths.append(_save(fig, out / "tracker.png"))

    fig = Figure(figsize=(11, 4.5))
    a1, a2 = fig.subplots(1, 2)
    if "cal_energy_layer" in hists:
        _heat(a1, hists["cal_energy_layer"], "tower", "calorimeter layer (0 = top)", "energy (MeV)")
    if "acd_hits" in hists:
        h = hists["acd_hits"]
        a2.bar(np.arange(h.counts.size), h.counts, color="C2", width=1.0)
        a2.set_xlabel("ACD tile / ribbon (index in id order)")
        a2.set_ylabel("hits")
    heading(fig, ["cal_energy_layer", "cal_hits", "cal_energy", "acd_hits"])
    paths.append(_save(fig, out / "calorimeter.png"))

    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(2, 2).ravel()
    for a, (name, label) in zip(axes, [("theta", "THETA (deg)"), ("phi", "PHI (deg)"),
                                       ("zenith", "zenith angle (deg)"), ("log_energy", "log10(ENERGY / MeV)")],
                                strict=True):  # fmt: skip
        if name in hists:
            _step(a, hists[name], ref.get(name), label)
    heading(fig, ["theta", "phi", "zenith", "log_energy"])
    paths.append(_save(fig, out / "directions.png"))

    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(3, 1, sharex=True)
    for a, (name, label) in zip(axes, [("event_rate", "events (Hz)"), ("trigger_rate", "triggers (Hz)"),
                                       ("livetime_fraction", "live fraction")], strict=True):  # fmt: skip
        if name in hists:
            h = hists[name]
            a.stairs(np.nan_to_num(h.counts), h.edges[0], color="C0")
            a.set_ylabel(label)
    axes[-1].set_xlabel("time since run start (s)")
    heading(fig, ["event_rate", "trigger_rate", "livetime_fraction", "summary.livetime_fraction"])
    paths.append(_save(fig, out / "rates.png"))

    fig = Figure(figsize=(12, 4))
    axes = fig.subplots(1, 3)
    for a, (name, label) in zip(axes, [("event_class", "EVENT_CLASS bits"), ("event_type", "EVENT_TYPE bits"),
                                       ("trigger_type", "GEM trigger conditions")], strict=True):  # fmt: skip
        if name in hists:
            _bars(a, hists[name], label)
    heading(fig, ["event_class", "event_type", "trigger_type"])
    paths.append(_save(fig, out / "classes.png"))
    return paths
