"""Trending plots with matplotlib (Agg backend): time series and the 4×4 tower grid, as PNG or SVG.

Time axes are UTC calendar dates and span the window asked for (the whole mission week of a
report), not only the data. The colour scale of a tower grid starts at 0 for counts and never
collapses to matplotlib's −0.1…0.1 when every tower has the same value. Series of several
towers get distinct colours (``tab20``) and a legend outside the axes, in tower order.

What a PNG shows is also saved in its text chunks (read them with ``PIL.Image.open(p).text``):
``x_start_utc`` and ``x_stop_utc`` (the x-axis limits read back from the axes), ``legend`` (the
labels, ``|``-separated), ``c_min`` and ``c_max`` (the colour-bar limits of a grid).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from fermi_isoc.trending.inputs import Series, tower_grid
from fermi_sciencetools_shim.time import met_to_mjd

FORMATS = (".png", ".svg")
#: MJD of matplotlib's date epoch 1970-01-01 (its date numbers are days since then)
_MJD_1970 = 40587.0


def _check(path: Path) -> Path:
    path = Path(path)
    if path.suffix not in FORMATS:
        raise ValueError(f"{path}: plot format must be one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def date_number(met: np.ndarray | float) -> np.ndarray:
    """Matplotlib date numbers (days since 1970-01-01 UTC) of MET seconds, via astropy's UTC.

    A time inside a leap second maps onto the start of the next day, as UTC day fractions do.
    """
    return np.asarray(met_to_mjd(np.asarray(met, dtype=np.float64), "utc"), dtype=np.float64) - _MJD_1970


def _utc(number: float) -> str:
    return mdates.num2date(number).strftime("%Y-%m-%dT%H:%M:%S")


def _save(fig, path: Path, meta: dict[str, str]) -> Path:  # type: ignore[no-untyped-def]
    if path.suffix == ".png":
        fig.savefig(path, metadata={"Software": "fermi-isoc", **meta})
    else:
        fig.savefig(
            path, metadata={"Date": None, "Description": "; ".join(f"{k}={v}" for k, v in meta.items())}
        )
    plt.close(fig)
    return path


def time_plot(
    series: list[Series],
    path: str | Path,
    title: str,
    ylabel: str,
    band: tuple | None = None,
    span: tuple[float, float] | None = None,
) -> Path:
    """Plot series against UTC dates.

    Parameters
    ----------
    series : list of Series
        One line each, labelled by its key (or quantity).
    path : str or Path
        Output file (``.png`` or ``.svg``).
    title, ylabel : str
        Plot title and y-axis label.
    band : tuple, optional
        ``(low, high)``: shades the nominal range.
    span : tuple of float, optional
        ``(met_start, met_stop)``: the x axis shows exactly this window (a report's week);
        default: the data's range.
    """
    path = _check(Path(path))
    many = len(series) > 4
    fig, ax = plt.subplots(figsize=(9.5 if many else 8, 3.4), layout="constrained")
    colours = plt.get_cmap("tab20" if many else "tab10")
    for i, s in enumerate(series):
        if s.met.size:
            ax.plot(date_number(s.met), s.value, ".-" if s.met.size < 50 else ".", ms=3, lw=0.6,
                    color=colours(i % colours.N), label=s.key or s.quantity)  # fmt: skip
    if band is not None:
        ax.axhspan(band[0], band[1], color="green", alpha=0.08, label="nominal")
    if span is not None:
        ax.set_xlim(*date_number(np.array(span, dtype=np.float64)))
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("UTC")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    labels: list[str] = []
    if len(series) > 1 or band is not None:
        legend = ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=2 if many else 1,
                           markerscale=2.5, frameon=False)  # fmt: skip
        labels = [t.get_text() for t in legend.get_texts()]
    x0, x1 = ax.get_xlim()
    return _save(fig, path, {"x_start_utc": _utc(x0), "x_stop_utc": _utc(x1), "legend": "|".join(labels)})


def colour_limits(values: np.ndarray, counts: bool) -> tuple[float, float]:
    """Colour-bar limits: from 0 for counts; a flat map gets a range around its value, not ±0.1."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if counts:
        lo = min(lo, 0.0)
        hi = max(hi, lo + 1.0)
    elif hi == lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def tower_grid_plot(
    per_tower: np.ndarray, path: str | Path, title: str, label: str, counts: bool = False
) -> Path:
    """The 4×4 tower grid (tower = column + 4·row) with each tower's value written in.

    ``counts=True`` for counts (bad strips): the scale starts at 0, ticks are whole numbers.
    """
    path = _check(Path(path))
    grid = tower_grid(per_tower)
    lo, hi = colour_limits(grid, counts)
    fig, ax = plt.subplots(figsize=(4.4, 3.8), layout="constrained")
    im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=lo, vmax=hi)
    for row in range(4):
        for col in range(4):
            value = grid[row, col]
            light = (value - lo) / (hi - lo) > 0.6 if hi > lo else False
            ax.text(col, row, f"T{col + 4 * row}\n{value:g}", ha="center", va="center", fontsize=7,
                    color="k" if light else "w")  # fmt: skip
    ax.set_xticks(range(4), [f"col {c}" for c in range(4)])
    ax.set_yticks(range(4), [f"row {r}" for r in range(4)])
    ax.set_title(title)
    bar = fig.colorbar(im, ax=ax, label=label)
    if counts:
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    c0, c1 = im.get_clim()
    return _save(fig, path, {"c_min": f"{c0:g}", "c_max": f"{c1:g}"})
