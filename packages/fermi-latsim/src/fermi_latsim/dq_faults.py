"""Simulator faults for the data-quality checks (issue 14), registered in :data:`fermi_latsim.simulate.FAULTS`.

* ``bad-config-key``: the middle run (index ``n_runs // 2``) is taken with a MOOT key the
  mission-planning table does not expect (:func:`fermi_latsim.config_keys.unplanned_moot_key`);
  the halfpipe must hold it in state ``mismatch``.
* ``rate-excursion``: during :data:`EXCURSION_SECONDS` in the middle of the middle run the
  charged-particle rate is :data:`EXCURSION_FACTOR` times its orbit-phase value: a burst of
  triggers far above the expectation, which the automatic bad-time check must flag.
* ``dead-tracker-layers``: the tracker layers :data:`DEAD_PLANES` (both views) of tower
  :data:`DEAD_TOWER` are dead for the whole simulation (no strip hit there), which the
  per-run monitoring must see.

Each fault is recorded in the simulation summary (``faults``) with what it did, so tests can
check that the truth shows it. Without these faults nothing here changes a simulation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fermi_halfpipe.keys import ConfigKeys
from fermi_l1 import instrument as lat
from fermi_latsim import detector
from fermi_latsim.config_keys import planned_keys, unplanned_moot_key

__all__ = [
    "DEAD_PLANES",
    "DEAD_TOWER",
    "DQ_FAULTS",
    "EXCURSION_FACTOR",
    "EXCURSION_SECONDS",
    "charged_factor",
    "dead_layers",
    "excursion_record",
    "excursion_window",
    "records",
    "run_keys",
]

DQ_FAULTS = {
    "bad-config-key": "the middle run is taken with a MOOT key the mission-planning table does not expect",
    "rate-excursion": "a burst of triggers (charged-particle rate x20) for 5 minutes in the middle of "
    "the middle run, far above the orbit-phase expectation",
    "dead-tracker-layers": "tracker layers 8-11 (both views) of tower 5 are dead",
}
#: Length (s) and charged-particle rate factor of the ``rate-excursion`` burst.
EXCURSION_SECONDS = 300.0
EXCURSION_FACTOR = 20.0
#: The tower and tracker planes (0 = top) killed by ``dead-tracker-layers``.
DEAD_TOWER = 5
DEAD_PLANES = (8, 9, 10, 11)


def faulty_run(n_runs: int) -> int | None:
    """Index of the run a run-level DQ fault hits (the middle one), None without runs."""
    return n_runs // 2 if n_runs else None


def run_keys(r: int, run_id: int, n_runs: int, faults: Sequence[str]) -> tuple[ConfigKeys, dict | None]:
    """The configuration keys of run number ``r`` (started at MET ``run_id``) and the fault record.

    The planned keys (:func:`fermi_latsim.config_keys.planned_keys`), except for the run hit by
    ``bad-config-key``, whose MOOT key is one the table does not plan; the record (else None)
    names the run, the keys it carries and the planned ones.
    """
    planned = planned_keys(run_id)
    if "bad-config-key" not in faults or r != faulty_run(n_runs):
        return planned, None
    bad = unplanned_moot_key(planned)
    return bad, {"run": int(run_id), "config_keys": bad.as_dict(), "planned": planned.as_dict()}


def dead_layers(dead: np.ndarray, faults: Sequence[str]) -> tuple[np.ndarray, dict | None]:
    """The dead strips with those of ``dead-tracker-layers`` added, and the fault record (or None)."""
    if "dead-tracker-layers" not in faults:
        return dead, None
    plane, view, strip = np.meshgrid(
        np.asarray(DEAD_PLANES), np.arange(lat.N_VIEWS), np.arange(lat.N_STRIPS), indexing="ij"
    )
    killed = detector.strip_key(np.full(plane.size, DEAD_TOWER), plane.ravel(), view.ravel(), strip.ravel())
    out = np.union1d(dead, killed).astype(np.int64)
    return out, {
        "tower": DEAD_TOWER,
        "planes": list(DEAD_PLANES),
        "views": [0, 1],
        "strips": int(killed.size),
    }


def excursion_window(runs: np.ndarray, faults: Sequence[str]) -> tuple[float, float] | None:
    """``[start, stop)`` (MET) of the ``rate-excursion`` burst: centred in the middle run, inside it."""
    r = faulty_run(len(runs))
    if "rate-excursion" not in faults or r is None:
        return None
    t0, t1 = (float(x) for x in runs[r])
    mid = 0.5 * (t0 + t1)
    half = min(EXCURSION_SECONDS, max(t1 - t0 - 2.0, 1.0)) / 2
    return mid - half, mid + half


def charged_factor(
    met_grid: np.ndarray, window: tuple[float, float] | None, base: np.ndarray | None = None
) -> np.ndarray | None:
    """The charged-particle rate factor per ``met_grid`` sample with the burst of ``window``.

    ``base`` is the orbit-phase factor (default 1); None is returned when there is neither a
    window nor a base (the simulation is then exactly as without the fault).
    """
    if window is None:
        return base
    f = np.ones(met_grid.size) if base is None else np.asarray(base, np.float64).copy()
    f[(met_grid >= window[0]) & (met_grid < window[1])] *= EXCURSION_FACTOR
    return f


def excursion_record(window: tuple[float, float], event_time: np.ndarray) -> dict:
    """What ``rate-excursion`` did: the window, the factor, and the event rates in and around it.

    ``rate_hz`` is the read-out event rate in the window, ``rate_around_hz`` the rate in the two
    windows of the same length just before and after it (the orbit-phase expectation).
    """
    t = np.asarray(event_time, np.float64)
    a, b = window
    span = b - a
    inside = int(((t >= a) & (t < b)).sum())
    around = int((((t >= a - span) & (t < a)) | ((t >= b) & (t < b + span))).sum())
    return {
        "start": a,
        "stop": b,
        "factor": EXCURSION_FACTOR,
        "events": inside,
        "rate_hz": inside / span,
        "rate_around_hz": around / (2 * span),
    }


def records(
    key_fault: dict | None,
    dead_fault: dict | None,
    window: tuple[float, float] | None,
    truth: dict[str, np.ndarray],
) -> dict[str, dict]:
    """The summary records (``faults``) of the DQ faults applied (empty when none was)."""
    out: dict[str, dict] = {}
    if key_fault is not None:
        out["bad-config-key"] = key_fault
    if dead_fault is not None:
        out["dead-tracker-layers"] = dead_fault
    if window is not None:
        out["rate-excursion"] = excursion_record(window, truth.get("time", np.zeros(0)))
    return out
