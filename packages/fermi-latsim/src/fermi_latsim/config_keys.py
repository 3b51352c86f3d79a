"""The configuration keys of simulated runs: those the mission-planning table plans for them.

Every run's datagrams carry its hardware, software and MOOT keys (datagram format version 2,
``docs/formats/telemetry.md`` §4.2.1). A clean simulation takes them from the same
mission-planning table the halfpipe checks runs against (:mod:`fermi_halfpipe.planning`, the
shipped table by default), so a clean run matches; the ``bad-config-key`` fault
(:mod:`fermi_latsim.dq_faults`) gives one run a MOOT key the table does not expect.
"""

from __future__ import annotations

from pathlib import Path

from fermi_halfpipe.keys import ConfigKeys
from fermi_halfpipe.planning import PlanningTable, load_table

__all__ = ["planned_keys", "unplanned_moot_key"]


def planned_keys(run_start: float, table: PlanningTable | str | Path | None = None) -> ConfigKeys:
    """The keys planned for a run started at MET ``run_start``.

    ``table`` is a loaded table or a path (default: the shipped table). Before the table's first
    change the LAT flew its first planned configuration (the halfpipe then reports that no
    configuration was planned: the run is held, never processed unchecked).
    """
    t = table if isinstance(table, PlanningTable) else load_table(table)
    keys = t.expected(run_start)
    return keys if keys is not None else t.changes[0].keys


def unplanned_moot_key(planned: ConfigKeys, table: PlanningTable | str | Path | None = None) -> ConfigKeys:
    """``planned`` with a MOOT key that no entry of the table plans (the next free number)."""
    t = table if isinstance(table, PlanningTable) else load_table(table)
    used = {c.keys.moot_key for c in t.changes}
    moot = planned.moot_key + 1
    while moot in used:
        moot += 1
    return ConfigKeys(planned.hw_key, planned.sw_key, moot)
