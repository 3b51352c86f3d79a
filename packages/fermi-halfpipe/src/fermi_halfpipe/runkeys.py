"""The configuration keys of a run: recorded from its datagrams, checked against mission planning.

At every merge, :func:`record_and_check` reads the keys of the run's datagrams of the delivery
(``hw_key, sw_key, moot_key`` columns of :class:`fermi_halfpipe.datagram.DecodedDatagrams`):

* the first keys seen are recorded on the run (``halfpipe_run.hw_key/sw_key/moot_key``);
* datagrams of one run carrying other keys than those recorded (a configuration change inside a
  run) are a problem row of the delivery naming both sets, and hold the run like a mismatch;
* an ``open`` run whose keys differ from the mission-planning table's entry in force at its
  start (:func:`fermi_halfpipe.planning.check_keys`) goes to state ``mismatch`` with a reason
  naming the key in the data and the planned one. Nothing of it is merged; the completion
  deadline does not apply; Level 1 does not take it, until an operator accepts it
  (:func:`fermi_halfpipe.policy.accept_run`, state ``accepted``).

Datagrams of format version 1 carry no keys (:data:`~fermi_halfpipe.format.UNKNOWN_KEY`): such
a run's keys stay unknown and it is not checked (the archived format predates the keys).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import DecodedDatagrams
from fermi_halfpipe.format import KEY_NAMES
from fermi_halfpipe.keys import ConfigKeys
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.planning import check_keys, load_table
from fermi_halfpipe.report import run_keys

__all__ = ["datagram_keys", "record_and_check"]


def datagram_keys(dec: DecodedDatagrams, idx: np.ndarray) -> list[tuple[ConfigKeys, int]]:
    """The distinct known key sets of datagrams ``idx``, each with the first datagram carrying it."""
    dg = dec.datagrams
    out: list[tuple[ConfigKeys, int]] = []
    seen: set[ConfigKeys] = set()
    for d in np.asarray(idx, dtype=np.int64).tolist():
        keys = ConfigKeys(*(int(dg[n][d]) for n in KEY_NAMES))
        if keys.known and keys not in seen:
            seen.add(keys)
            out.append((keys, d))
    return out


def record_and_check(
    session: Session,
    run: M.HalfpipeRun,
    delivery_id: str,
    dec: DecodedDatagrams,
    idx: np.ndarray,
    options: HalfpipeOptions,
) -> None:
    """Record the keys of the run's datagrams ``idx`` of this delivery and check them (module docstring)."""
    found = datagram_keys(dec, idx)
    if not found:
        return
    recorded = run_keys(run)
    if not recorded.known:
        recorded = found[0][0]
        for n in KEY_NAMES:
            setattr(run, n, getattr(recorded, n))
    others = [(k, d) for k, d in found if k != recorded]
    for keys, d in others:
        session.add(
            M.HalfpipeProblem(
                delivery_id=delivery_id,
                run_id=int(run.run_id),
                apid=int(dec.datagrams["apid"][d]),
                source=dec.sources[d] if d < len(dec.sources) else "<memory>",
                source_offset=int(dec.datagrams["source_offset"][d]),
                offset=0,
                reason=f"configuration keys {keys} differ from the run's keys {recorded}",
                events_lost=0,
            )
        )
    if run.status not in (M.OPEN, M.REJECTED):
        return
    if others and run.status == M.OPEN:
        run.status = M.MISMATCH
        run.reason = (
            f"delivery {delivery_id}: datagrams of one run carry two configurations: {recorded} "
            f"and {others[0][0]}"
        )
        return
    reason = check_keys(load_table(options.planning_table), int(run.run_id), recorded)
    if reason is None:
        return
    if run.status == M.OPEN:
        run.status, run.reason = M.MISMATCH, f"delivery {delivery_id}: {reason}"
    elif "configuration key" not in (run.reason or ""):  # rejected too: say so once
        run.reason = f"{run.reason}; also {reason}"
