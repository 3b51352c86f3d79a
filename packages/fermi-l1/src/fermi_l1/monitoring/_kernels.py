"""Numba kernels of the digi monitoring: one pass over the hits of a crumb fills its histograms.

Inputs are the plain hit arrays of :class:`fermi_l1.digi.DigiEvents`; outputs are added into
the given count arrays (so crumbs can be accumulated in place). The numpy twin is
:mod:`._reference` (same signatures, same results; tested against each other).
"""

from __future__ import annotations

import numpy as np

from fermi_core.jit import njit


@njit(nogil=True)
def fill_tracker(tower: np.ndarray, plane: np.ndarray, view: np.ndarray, out: np.ndarray) -> None:
    """Add one count per strip hit to ``out[tower, 2 * plane + view]`` (shape (16, 36))."""
    for i in range(tower.size):
        out[tower[i], 2 * plane[i] + view[i]] += 1


@njit(nogil=True)
def fill_calorimeter(
    tower: np.ndarray, layer: np.ndarray, column: np.ndarray, energy: np.ndarray,
    hits: np.ndarray, esum: np.ndarray,
) -> None:  # fmt: skip
    """Add hits and energy (MeV) per log to ``hits``/``esum[tower, layer, column]`` (16, 8, 12)."""
    for i in range(tower.size):
        hits[tower[i], layer[i], column[i]] += 1
        esum[tower[i], layer[i], column[i]] += energy[i]


@njit(nogil=True)
def fill_acd(ids: np.ndarray, index_of: np.ndarray, out: np.ndarray) -> None:
    """Add one count per ACD hit to ``out[index_of[id]]`` (ids without an index are not ACD ids)."""
    for i in range(ids.size):
        k = index_of[ids[i]]
        if k >= 0:
            out[k] += 1


@njit(nogil=True)
def fill_tower_bits(vector: np.ndarray, status: np.ndarray, out: np.ndarray) -> None:
    """Count, per tower bit of a GEM tower vector, the good events (``status == 0``) with it set."""
    n_bits = out.size
    for i in range(vector.size):
        if status[i] != 0:
            continue
        v = np.int64(vector[i])
        for b in range(n_bits):
            if (v >> b) & 1:
                out[b] += 1
