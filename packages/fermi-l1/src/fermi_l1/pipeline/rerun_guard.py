"""The L1 chain's re-run rule: done work of a catalogued version of a LAT run is never redone in place.

A LAT run's products are never changed once catalogued (:mod:`fermi_l1.versions`): a change
makes the next version. A re-run requeues task runs under their own keys, so a re-run of a
catalogued version's done work (a whole LAT run, or one done ``TASK/KEY``) would move that
version's crumbs and input folder aside, remake them with the installed software, and then fail
at registration ("version N is already registered") -- leaving the catalogued products' inputs
changed under them. :func:`rerun_guard` (the :attr:`fermi_core.engine.registry.Chain.rerun_guard`
of :data:`fermi_l1.pipeline.tasks.L1_CHAIN`) refuses such a request up front with one line naming
``fermi-l1 reprocess``, which makes the next version instead.

Allowed: re-running a failed, crashed or cancelled step (``--step``) -- the engine requeues only
such task runs, never done ones -- and a whole-run re-run of a version whose products are not
catalogued (e.g. its crumbs failed before any product was made).

Keys (:mod:`fermi_l1.pipeline.tasks`): ``r<run10>`` and ``r<run10>.cCCCC.kKKK`` are version 1,
``r<run10>.vVVV`` and ``r<run10>.vVVV.cCCCC.kKKK`` version VVV.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.engine.registry import RerunCandidate
from fermi_core.engine.states import State
from fermi_core.site import run_folder

__all__ = ["rerun_guard", "version_of_key"]

_RUN = re.compile(r"^r(\d{10})$")
_VERSION = re.compile(r"^v(\d{3,})$")


def version_of_key(key: str) -> tuple[int, int] | None:
    """``(LAT run, product version)`` a task-run key works for, or None for a key of no LAT run."""
    head, _, rest = key.partition(".")
    m = _RUN.match(head)
    if m is None:
        return None
    v = _VERSION.match(rest.partition(".")[0])
    return int(m.group(1)), int(v.group(1)) if v else 1


def rerun_guard(session: Session, targets: Sequence[RerunCandidate], step: str | None) -> str | None:
    """The refusal of a re-run that would redo done work of a catalogued version, else None.

    Parameters
    ----------
    session
        The engine's session (the catalog is read through it).
    targets
        The L1 task runs the request would requeue.
    step
        The step asked for (None: the whole LAT run or one ``TASK/KEY``); not needed: a step
        re-run requeues only failed, crashed or cancelled task runs.
    """
    from fermi_l1.catalog.models import Dataset

    done = {v for t in targets if t.state == State.DONE.value and (v := version_of_key(t.key)) is not None}
    if not done:
        return None
    rows = session.execute(
        select(Dataset.run, Dataset.version, Dataset.data_type).where(
            Dataset.run.in_(sorted({r for r, _ in done}))
        )
    ).all()
    catalogued: dict[tuple[int, int], set[str]] = {}
    for run, version, data_type in rows:
        if (int(run), int(version)) in done:
            catalogued.setdefault((int(run), int(version)), set()).add(str(data_type))
    if not catalogued:
        return None
    (run, version), types = min(catalogued.items())
    return (
        f"LAT run {run_folder(run)} v{version:03d} has catalogued products ({', '.join(sorted(types))}), "
        f"which are never remade in place: make the next version with "
        f"'fermi-l1 reprocess --runs {run} --why TEXT' (a re-run is for a failed or crashed step: --step)"
    )
