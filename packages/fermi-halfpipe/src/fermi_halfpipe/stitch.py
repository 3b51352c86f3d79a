"""Runs stitched across deliveries: datagram bookkeeping, the EPU rule, safe merge spans, retirement.

How a delivery is merged (one database transaction; outputs are written under their final
names before the commit and are byte-identical when the merge is re-run):

1. The delivery's event packets are reassembled into datagrams; pieces cut by a delivery
   boundary are joined with pending fragments of other deliveries or kept as fragments.
2. Datagrams are decoded (numba); malformed ones are recorded as problems with source, offset,
   reason and events lost. Each run is locked (:func:`fermi_halfpipe.locks.lock_run`), then:
3. **EPU rule**: datagrams on an APID outside the configured EPU set, or whose crate does not
   match its APID, reject the run with the reason recorded (nothing merged, nothing deleted).
4. Datagram sequence numbers are unrolled (20 bits) against the run's stored datagrams;
   repeats are counted as duplicates (first copy kept; a copy with different bytes is a problem).
5. **Coverage**: per expected EPU, each contiguous datagram segment covers the GEM range of its
   events, extended to the run start when it opens with datagram 0 and action start, and to the
   run end when it closes with stop, abort or pause. Events are mergeable where the coverages of
   *both* expected EPUs overlap: nothing of either EPU can still arrive there.
6. New spans = mergeable − already delivered spans. Their events are merged by GEM sequence and
   written as Arrow files (one per span, split at ``max_events``); the spans are recorded so they
   are never delivered again. Everything else is held back (recorded with its location) and
   merged by a later delivery. Events of a new datagram inside an already delivered span are
   reported as late, never merged twice.
7. A run is retired when, for every expected EPU, its datagrams form one contiguous segment from
   datagram 0 (open action start) to a close action stop, abort or pause — or when an operator
   force-completes it with a reason (:func:`force_complete`).

The delivery summary, :func:`force_complete` and :func:`run_status` report each run with one
type, :class:`fermi_halfpipe.report.RunReport` (run totals; what the step did under ``step``),
including the events held by the datagrams still missing, counted from the GEM sequence
(:mod:`fermi_halfpipe.losses`: exact, an estimate with an on-board filter, or a lower bound when a
run end is missing).

Where each layer lives: the rules of steps 3–7 as pure functions in :mod:`fermi_halfpipe.rules`;
the datagram and fragment store in :mod:`fermi_halfpipe.store`; the locks in
:mod:`fermi_halfpipe.locks`; steps 1–4 in :mod:`fermi_halfpipe.intake`; step 6 (merged files,
held/late rows, counters, retirement) in :mod:`fermi_halfpipe.release`; the report in
:mod:`fermi_halfpipe.report`. This module holds the entry points only. Paths come from the
:class:`fermi_core.site.Site` passed in (default :meth:`Site.from_env`) and are stored
home-relative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fermi_core.atomic import atomic_write_bytes
from fermi_core.checksum import sha256_bytes, sha256_file
from fermi_core.db import session_scope
from fermi_core.site import Site, run_folder
from fermi_halfpipe import models as M
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.intake import merge_delivery_packets
from fermi_halfpipe.locks import lock_database, lock_run
from fermi_halfpipe.options import HalfpipeOptions
from fermi_halfpipe.release import deliver_run, retire
from fermi_halfpipe.report import run_report, run_reports
from fermi_halfpipe.rules import completeness
from fermi_halfpipe.store import run_rows
from fermi_ingest.published import AcceptedPackets

__all__ = [
    "HalfpipeError",
    "HalfpipeOptions",
    "MergeSummary",
    "force_complete",
    "merge_packets",
    "run_status",
]


class MergeSummary(dict):
    """The delivery summary (a ``dict``, equal to the one on disk) returned by :func:`merge_packets`.

    Attributes
    ----------
    already_merged
        True when the delivery had been merged before (by this or another process) and nothing
        was done but checking its outputs.
    """

    already_merged: bool = False


def _site(site: Site | None, url: str | None) -> Site:
    return site if site is not None else Site.from_env(db_url=url)


def _json_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def merge_packets(
    delivery_id: str,
    packets: AcceptedPackets | Iterable[AcceptedPackets],
    options: HalfpipeOptions | None = None,
    url: str | None = None,
    *,
    site: Site | None = None,
    now: datetime | None = None,
) -> MergeSummary:
    """Merge the packets of delivery ``delivery_id``; return the delivery summary (also on disk).

    Re-running a delivery that was merged already changes nothing and returns its summary (after
    checking every output file against its recorded SHA-256), with ``already_merged`` set. Two
    processes merging the same delivery at once are serialised by
    :func:`fermi_halfpipe.locks.lock_database`: the second waits, then finds it merged.

    ``site`` is the data home and database (default :meth:`Site.from_env`, ``url`` as database);
    ``now`` the wall time the data count as arrived (default: now; the completion deadline
    starts from it). ``options`` default to :meth:`HalfpipeOptions.from_env`.
    """
    options = options or HalfpipeOptions.from_env()
    site = _site(site, url)
    with session_scope(site.db_url) as session:
        lock_database(session, delivery_id)
        known = session.scalar(
            select(M.HalfpipeDelivery).where(M.HalfpipeDelivery.delivery_id == delivery_id)
        )
        if known is not None and known.state == "done":
            done = MergeSummary(_verify_done(session, site, known))
            done.already_merged = True
            return done
        if known is None:  # first, so its id orders the deliveries for the deadline
            known = M.HalfpipeDelivery(
                delivery_id=delivery_id, state="merging", summary_path="", summary_sha256=""
            )
            session.add(known)
            session.flush()
        summary = MergeSummary(
            merge_delivery_packets(
                session, site, delivery_id, packets, options, delivery_row=known.id, now=now
            )
        )
        path = site.halfpipe_summaries / f"{delivery_id}.json"
        data = _json_bytes(summary)
        atomic_write_bytes(path, data)
        known.state = "done"
        known.summary_path = site.relative(path)
        known.summary_sha256 = sha256_bytes(data)
        return summary


def _verify_done(session: Session, site: Site, known: M.HalfpipeDelivery) -> dict:
    """The summary of a merged delivery, after checking it and its merged files against their SHA-256."""
    path = site.resolve(known.summary_path)
    if not path.is_file() or sha256_file(path) != known.summary_sha256:
        raise HalfpipeError(f"delivery {known.delivery_id}: summary {path} is missing or altered")
    for f in session.scalars(select(M.HalfpipeFile).where(M.HalfpipeFile.delivery_id == known.delivery_id)):
        p = site.resolve(f.path)
        if not p.is_file() or sha256_file(p) != f.sha256:
            raise HalfpipeError(f"delivery {known.delivery_id}: merged file {p} is missing or altered")
    return json.loads(path.read_text(encoding="utf-8"))


def force_complete(
    run_id: int,
    reason: str,
    options: HalfpipeOptions | None = None,
    url: str | None = None,
    *,
    site: Site | None = None,
) -> dict:
    """Retire an open run as incomplete: deliver every held-back event, record the reason.

    Returns the run's report (:meth:`fermi_halfpipe.report.RunReport.as_dict`; ``step`` says
    what forcing delivered), also written to ``halfpipe/forced/``.

    Raises
    ------
    HalfpipeError
        If the reason is empty, the run is unknown, or it is not open (names the run and status).
    """
    options = options or HalfpipeOptions.from_env()
    site = _site(site, url)
    if not reason.strip():
        raise HalfpipeError(f"run {run_id}: a reason is required to force-complete a run")
    label = f"force-{run_folder(run_id)}"
    with session_scope(site.db_url) as session:
        lock_database(session, label)
        if session.scalar(select(M.HalfpipeRun.id).where(M.HalfpipeRun.run_id == run_id)) is None:
            raise HalfpipeError(f"run {run_id}: unknown to the halfpipe (no datagram merged)")
        run = lock_run(session, run_id, label)
        if run.status != M.OPEN:
            raise HalfpipeError(
                f"run {run_id}: status is {run.status} ({run.reason or 'no reason'}); only open runs can be forced"
            )
        missing = completeness(run_rows(session, run_id), list(options.epu_apids))
        step = deliver_run(session, site, run, label, {}, options, force=True)
        why = f"forced by operator: {reason.strip()}" + (
            f" (missing: {'; '.join(missing)})" if missing else ""
        )
        retire(session, site, run, M.INCOMPLETE, label, why, options)
        step.retired_now = True
        report = run_report(session, site, run, options, step).as_dict()
        atomic_write_bytes(site.halfpipe_forced / f"{run_folder(run_id)}.json", _json_bytes(report))
        return report


def run_status(
    run_id: int | None = None,
    options: HalfpipeOptions | None = None,
    url: str | None = None,
    *,
    site: Site | None = None,
) -> list[dict]:
    """Reports of one run (or of every run) as dicts (:class:`fermi_halfpipe.report.RunReport`)."""
    options = options or HalfpipeOptions()
    site = _site(site, url)
    with session_scope(site.db_url) as session:
        return [r.as_dict() for r in run_reports(session, site, options, run_id)]
