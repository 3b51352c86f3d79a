"""The LAT commands of a weekly load that follow the orbit: SAA entry and exit, plane crossings.

The LAT stops its data-taking run at SAA entry and starts a new one at exit; on an orbit that
misses the SAA a stop/start pair is issued at the northbound orbital-plane crossing (ascending
node). Times (isoc.md): 30 s before entry, 5 s and 30 s after exit, ±5 s around a crossing.
Each command belongs to the one half-open week ``[start, stop)`` holding its start, so a command
at exactly Thursday 00:00 is in the later load only, and a stop/start pair across the boundary
is reported by :func:`fermi_isoc.planning.commands.check_week_boundaries`.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from fermi_isoc.planning.commands import Command
from fermi_isoc.planning.passages import Passage

#: seconds before SAA entry of the run stop
BEFORE_ENTRY_S = 30.0
#: seconds after SAA exit of the run start and of the second command
AFTER_EXIT_S = (5.0, 30.0)
#: half-width (s) of the stop/start pair around a plane crossing
AROUND_CROSSING_S = 5.0


def orbit_commands(
    passages: list[Passage], nodes: np.ndarray, met_start: float, met_stop: float
) -> list[Command]:
    """Commands of ``[met_start, met_stop)`` from the SAA passages and ascending nodes around it.

    Parameters
    ----------
    passages : list of Passage
        Predicted passages, including those just outside the window (their commands may fall in).
    nodes : numpy.ndarray
        MET of the ascending nodes, including the one before the window.
    met_start, met_stop : float
        The week (stop exclusive).

    Returns
    -------
    list of Command
        Sorted by start; only commands whose start lies in the week.
    """
    commands: list[Command] = []
    real = [p for p in passages if not p.starts_inside and not p.ends_inside]
    for p in real:
        commands.append(Command("SAA entry -30 s (run stop)", p.entry - BEFORE_ENTRY_S))
        commands.append(Command("SAA exit +5 s (run start)", p.exit + AFTER_EXIT_S[0]))
        commands.append(Command("SAA exit +30 s", p.exit + AFTER_EXIT_S[1]))
    entries = np.array([p.entry for p in passages])
    nodes = np.sort(np.asarray(nodes, dtype=np.float64))
    for a, b in pairwise(nodes):
        if not np.any((entries >= a) & (entries < b)):  # this orbit misses the SAA
            commands.append(Command("plane crossing -5..+5 s (run stop/start)", a - AROUND_CROSSING_S,
                                    2 * AROUND_CROSSING_S))  # fmt: skip
    return sorted((c for c in commands if met_start <= c.start < met_stop), key=lambda c: c.start)
