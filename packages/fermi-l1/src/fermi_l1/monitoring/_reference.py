"""Numpy twin of :mod:`._kernels` (same signatures and results; the kernels are tested against it)."""

from __future__ import annotations

import numpy as np


def fill_tracker(tower: np.ndarray, plane: np.ndarray, view: np.ndarray, out: np.ndarray) -> None:
    """Add one count per strip hit to ``out[tower, 2 * plane + view]`` (shape (16, 36))."""
    np.add.at(out, (tower.astype(np.int64), 2 * plane.astype(np.int64) + view.astype(np.int64)), 1)


def fill_calorimeter(
    tower: np.ndarray, layer: np.ndarray, column: np.ndarray, energy: np.ndarray,
    hits: np.ndarray, esum: np.ndarray,
) -> None:  # fmt: skip
    """Add hits and energy (MeV) per log to ``hits``/``esum[tower, layer, column]`` (16, 8, 12)."""
    idx = (tower.astype(np.int64), layer.astype(np.int64), column.astype(np.int64))
    np.add.at(hits, idx, 1)
    np.add.at(esum, idx, energy)


def fill_acd(ids: np.ndarray, index_of: np.ndarray, out: np.ndarray) -> None:
    """Add one count per ACD hit to ``out[index_of[id]]`` (ids without an index are not ACD ids)."""
    k = index_of[ids.astype(np.int64)]
    np.add.at(out, k[k >= 0], 1)


def fill_tower_bits(vector: np.ndarray, status: np.ndarray, out: np.ndarray) -> None:
    """Count, per tower bit of a GEM tower vector, the good events (``status == 0``) with it set."""
    v = vector[status == 0].astype(np.int64)
    for b in range(out.size):
        out[b] += np.count_nonzero((v >> b) & 1)
