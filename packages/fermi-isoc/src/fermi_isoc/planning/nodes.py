"""Orbit numbers and northbound orbital-plane crossings (ascending nodes) from a TLE.

An orbit number counts revolutions from ascending node to ascending node; the TLE states the
revolution in progress at its epoch (line 2, columns 64-68). The number of a later (or earlier)
node is that count plus the nodes passed since the epoch, found by rounding the time since the
first node after the epoch to whole nodal periods (the period is measured from the nodes of the
planning window, good to well under a second per orbit over the weeks a TLE is used for). The
TLE field has five digits; numbers here keep counting past 99999 rather than wrapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fermi_core.mission.orbit import Orbit, Tle, ascending_nodes

#: sampling step (s) of the orbit when searching the nodes; nodes are interpolated between samples
NODE_STEP_S = 30.0


def node_times(tle: Tle, met_start: float, met_stop: float, step: float = NODE_STEP_S) -> np.ndarray:
    """MET of the ascending nodes (northbound equator crossings) in ``[met_start, met_stop)``."""
    met = np.arange(met_start - step, met_stop + step, step, dtype=np.float64)
    nodes = ascending_nodes(Orbit(tle).states(met))
    return nodes[(nodes >= met_start) & (nodes < met_stop)]


@dataclass(frozen=True)
class OrbitNumbering:
    """Orbit numbers of a time span, anchored on the TLE's revolution number.

    Attributes
    ----------
    nodes : numpy.ndarray
        MET of the ascending nodes covering the span (the node before it included).
    numbers : numpy.ndarray
        Orbit number that starts at each node.
    """

    nodes: np.ndarray
    numbers: np.ndarray

    def orbit_at(self, met: float) -> int:
        """Number of the orbit in progress at ``met``."""
        i = int(np.searchsorted(self.nodes, met, side="right")) - 1
        if i < 0:
            raise ValueError(f"MET {met:.1f} is before the first node {self.nodes[0]:.1f} of the numbering")
        return int(self.numbers[i])


def orbit_numbering(tle: Tle, met_start: float, met_stop: float) -> OrbitNumbering:
    """Number the orbits of ``[met_start, met_stop)`` from the TLE's revolution count."""
    period = tle.period_s
    epoch = tle.epoch_met
    first_after_epoch = node_times(tle, epoch, epoch + 2.0 * period)[0]
    nodes = node_times(tle, met_start - 1.5 * period, met_stop)
    nodal = float(np.median(np.diff(nodes))) if nodes.size > 1 else period
    passed = np.rint((nodes - first_after_epoch) / nodal).astype(np.int64)
    return OrbitNumbering(nodes, int(tle.satrec.revnum) + 1 + passed)
