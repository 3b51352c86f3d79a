"""Trending plots with matplotlib (Agg backend): time series and the 4×4 tower grid, as PNG or SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fermi_isoc.trending.inputs import Series, tower_grid
from fermi_sciencetools_shim.time import met_to_mjd

FORMATS = (".png", ".svg")


def _check(path: Path) -> Path:
    path = Path(path)
    if path.suffix not in FORMATS:
        raise ValueError(f"{path}: plot format must be one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def time_plot(
    series: list[Series], path: str | Path, title: str, ylabel: str, band: tuple | None = None
) -> Path:
    """Plot series against UTC MJD; ``band`` (low, high) shades the nominal range."""
    path = _check(Path(path))
    fig, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
    for s in series:
        if s.met.size:
            ax.plot(met_to_mjd(s.met, "utc"), s.value, ".", ms=2, label=s.key or s.quantity)
    if band is not None:
        ax.axhspan(band[0], band[1], color="green", alpha=0.08, label="nominal")
    ax.set_xlabel("MJD (UTC)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1 or band is not None:
        ax.legend(fontsize=7, loc="best")
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else {})
    plt.close(fig)
    return path


def tower_grid_plot(per_tower: np.ndarray, path: str | Path, title: str, label: str) -> Path:
    """The 4×4 tower grid (tower = column + 4·row) with each tower's value written in."""
    path = _check(Path(path))
    grid = tower_grid(per_tower)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), layout="constrained")
    im = ax.imshow(grid, origin="lower", cmap="viridis")
    for row in range(4):
        for col in range(4):
            ax.text(
                col,
                row,
                f"T{col + 4 * row}\n{grid[row, col]:g}",
                ha="center",
                va="center",
                fontsize=7,
                color="w",
            )
    ax.set_xticks(range(4), [f"col {c}" for c in range(4)])
    ax.set_yticks(range(4), [f"row {r}" for r in range(4)])
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=label)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else {})
    plt.close(fig)
    return path
