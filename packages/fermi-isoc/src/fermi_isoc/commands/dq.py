"""``fermi-isoc dq``: a run's data quality (verdict, failing checks, sign-off, plots, bad intervals),
the list of runs by verdict, the reference run, sign-off, and bad time intervals.

``show``/``list``/``intervals`` read; ``reference``, ``signoff``, ``flag`` and ``unflag`` record
who (and why) through the monitoring's and the bad-time module's public functions
(:mod:`fermi_isoc.dataquality`). Times of ``flag`` are MET seconds or UTC (``2026-11-20T12:00:00``).
"""

from __future__ import annotations

import argparse
import getpass
import json

from fermi_core.site import Site, run_folder
from fermi_isoc import dataquality as dq
from fermi_isoc.db import isoc_session
from fermi_sciencetools_shim.time import met_to_utc_iso, utc_to_met


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``dq`` and its sub-commands."""
    p = subparsers.add_parser(
        "dq", help="data quality: run verdicts, sign-off, reference run, bad time intervals"
    )
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.add_argument("--home", help="data home (default: FERMI_HOME)")
    sub = p.add_subparsers(dest="dq_command", metavar="SUBCOMMAND", required=True)

    s = sub.add_parser("show", help="a run's verdict, failing checks, sign-off, plots and bad intervals")
    s.add_argument("run", help="LAT run (796000000 or r0796000000)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(handler=show)

    s = sub.add_parser("list", help="runs with their verdict and sign-off")
    s.add_argument("--verdict", choices=dq.VERDICTS, help="only runs with this verdict")
    s.add_argument("--limit", type=int, default=None, help="at most this many runs")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(handler=list_runs)

    s = sub.add_parser("reference", help="make a run the reference of the histogram comparisons")
    s.add_argument("run", help="LAT run")
    s.add_argument("--who", default=None, help="who (default: the login name)")
    s.set_defaults(handler=reference)

    s = sub.add_parser("signoff", help="sign a run off as good or bad, with who and why")
    s.add_argument("run", help="LAT run")
    s.add_argument("verdict", metavar="good|bad", help="the operator's verdict: good or bad")
    s.add_argument("--who", default=None, help="who (default: the login name)")
    s.add_argument("--reason", required=True, help="why (recorded)")
    s.set_defaults(handler=signoff)

    s = sub.add_parser("flag", help="record a bad time interval (the affected runs' FT2/FT1 are re-issued)")
    s.add_argument("--start", required=True, help="start: MET seconds or UTC (2026-11-20T12:00:00)")
    s.add_argument("--stop", required=True, help="stop: MET seconds or UTC")
    s.add_argument("--reason", required=True, help="why (e.g. solar flare, instrument anomaly)")
    s.add_argument("--who", default=None, help="who (default: the login name)")
    s.set_defaults(handler=flag)

    s = sub.add_parser("unflag", help="remove a bad time interval (the affected runs are re-issued again)")
    s.add_argument("interval", type=int, help="interval id (from `fermi-isoc dq intervals`)")
    s.add_argument("--reason", required=True, help="why (recorded)")
    s.add_argument("--who", default=None, help="who (default: the login name)")
    s.set_defaults(handler=unflag)

    s = sub.add_parser("intervals", help="the bad time intervals")
    s.add_argument("--all", action="store_true", help="also the removed ones")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(handler=list_intervals)


def _who(args: argparse.Namespace) -> str:
    return args.who or getpass.getuser()


def _met(text: str, name: str) -> float:
    """MET seconds of ``text``: a number, or a UTC date-time."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(utc_to_met(text))
    except ValueError as exc:
        raise dq.DataQualityError(
            f"--{name} {text!r}: neither MET seconds nor a UTC date-time ({exc})"
        ) from exc


def _utc(met: float) -> str:
    return str(met_to_utc_iso(met, 0)).replace("T", " ")


def _refused(args: argparse.Namespace, exc: Exception) -> int:
    print(f"fermi-isoc dq {args.dq_command}: refused: {exc}")
    return 1


def _verdict_json(v) -> dict | None:
    if v is None:
        return None
    return {
        "run": v.run, "version": v.version, "verdict": v.verdict,
        "checks": v.checks, "excepted": v.excepted, "skipped": v.skipped,
        "evaluated_at": v.evaluated_at.isoformat() if v.evaluated_at else None, "reference_run": v.reference_run,
        "signoff": v.signoff, "signed_by": v.signed_by,
        "signed_at": v.signed_at.isoformat() if v.signed_at else None, "reason": v.reason,
    }  # fmt: skip


def _interval_json(i: dq.Interval) -> dict:
    return {
        "id": i.id, "start_met": i.start_met, "stop_met": i.stop_met, "start_utc": _utc(i.start_met),
        "stop_utc": _utc(i.stop_met), "reason": i.reason, "who": i.who, "source": i.source, "active": i.active,
    }  # fmt: skip


def _interval_line(i: dq.Interval) -> str:
    state = "" if i.active else " (removed)"
    return (
        f"interval {i.id}: MET {i.start_met:.3f}-{i.stop_met:.3f} ({_utc(i.start_met)} to {_utc(i.stop_met)} UTC), "
        f"{i.source} by {i.who}: {i.reason}{state}"
    )


def show(args: argparse.Namespace) -> int:
    """Print a run's data quality; exit 1 for an unknown run."""
    try:
        run = dq.parse_run(args.run)
    except dq.DataQualityError as exc:
        return _refused(args, exc)
    site = Site.from_env(home=args.home, db_url=args.db)
    with isoc_session(args.db) as session:
        q = dq.run_quality(session, site, run)
    if q.verdict is None and q.halfpipe is None and q.span is None:
        return _refused(args, dq.DataQualityError(f"no LAT run {run} (not known to the halfpipe nor to L1)"))
    if args.json:
        print(json.dumps({
            "run": run, "state": q.state, "verdict": _verdict_json(q.verdict),
            "halfpipe_state": q.halfpipe.state if q.halfpipe else None,
            "halfpipe_reason": q.halfpipe.reason if q.halfpipe else None, "config_keys": q.config_keys,
            "plots": [str(p) for p in q.plots], "intervals": [_interval_json(i) for i in q.intervals],
        }, indent=1))  # fmt: skip
        return 0
    v = q.verdict
    print(f"run {run} ({run_folder(run)}): {q.state}")
    if q.halfpipe is not None:
        reason = f" ({q.halfpipe.reason})" if q.halfpipe.reason else ""
        print(f"  halfpipe: {q.halfpipe.state}{reason}")
    if q.config_keys:
        print(f"  configuration keys: {dq.keys_text(q.config_keys)}")
    if v is None:
        print("  verdict: not evaluated yet (no monitoring verdict of L1)")
    else:
        print(f"  verdict: {v.verdict} (version {v.version}), {len(v.checks)} failing checks")
        for c in v.checks:
            print(f"    {dq.check_text(c)}")
        if v.excepted:
            print(f"  {len(v.excepted)} failures set aside by known exceptions")
        if v.skipped:
            print(f"  {len(v.skipped)} checks skipped: " + "; ".join(
                f"{c.get('quantity')} {c.get('check')} ({c.get('reason')})" for c in v.skipped))  # fmt: skip
        if v.signoff:
            when = f" at {v.signed_at:%Y-%m-%d %H:%M} UTC" if v.signed_at else ""
            print(f"  signed off {v.signoff} by {v.signed_by}{when}: {v.reason}")
        else:
            print("  not signed off")
    print(f"  plots: {len(q.plots)}")
    for p in q.plots:
        print(f"    {p}")
    if q.span is not None:
        print(
            f"  span: MET {q.span[0]:.3f}-{q.span[1]:.3f}; bad time intervals touching the run: {len(q.intervals)}"
        )
    for i in q.intervals:
        print(f"    {_interval_line(i)}")
    return 0


def list_runs(args: argparse.Namespace) -> int:
    """Print runs with their verdict."""
    with isoc_session(args.db) as session:
        rows = dq.verdicts(session, verdict=args.verdict, limit=args.limit)
        counts = dq.verdict_counts(session)
    if args.json:
        print(json.dumps([_verdict_json(v) for v in rows], indent=1))
        return 0
    print(", ".join(f"{k} {counts.get(k, 0)}" for k in dq.VERDICTS))
    for v in rows:
        failing = "; ".join(dq.check_text(c) for c in v.checks)
        signed = f", signed off {v.signoff} by {v.signed_by}" if v.signoff else ""
        print(f"run {v.run} v{v.version}: {v.verdict}{signed}" + (f": {failing}" if failing else ""))
    return 0


def reference(args: argparse.Namespace) -> int:
    """Set the reference run; exit 1 when refused."""
    who = _who(args)
    try:
        run = dq.parse_run(args.run)
        with isoc_session(args.db) as session:
            dq.set_reference(session, run, who)
    except (ValueError, LookupError) as exc:
        return _refused(args, exc)
    print(f"run {run} is the reference run, set by {who}: the next evaluations compare with it")
    return 0


def signoff(args: argparse.Namespace) -> int:
    """Record a sign-off; exit 1 when refused."""
    who = _who(args)
    try:
        run = dq.parse_run(args.run)
        with isoc_session(args.db) as session:
            dq.sign_off(session, run, args.verdict, who, args.reason)
    except (ValueError, LookupError) as exc:
        return _refused(args, exc)
    print(f"run {run} signed off {args.verdict} by {who}: {args.reason}")
    return 0


def flag(args: argparse.Namespace) -> int:
    """Record a bad time interval; exit 1 when refused."""
    who = _who(args)
    try:
        start, stop = _met(args.start, "start"), _met(args.stop, "stop")
        with isoc_session(args.db) as session:
            interval_id = dq.flag(session, start, stop, reason=args.reason, who=who)
    except (ValueError, LookupError) as exc:
        return _refused(args, exc)
    print(
        f"bad time interval {interval_id} recorded: MET {start:.3f}-{stop:.3f} ({_utc(start)} to {_utc(stop)} UTC) "
        f"by {who}: {args.reason}; the next L1 pass re-issues the affected runs' FT2 and FT1"
    )
    return 0


def unflag(args: argparse.Namespace) -> int:
    """Remove a bad time interval; exit 1 when refused."""
    who = _who(args)
    try:
        with isoc_session(args.db) as session:
            dq.unflag(session, args.interval, who=who, reason=args.reason)
    except (ValueError, LookupError) as exc:
        return _refused(args, exc)
    print(
        f"bad time interval {args.interval} removed by {who}: {args.reason}; "
        "the next L1 pass re-issues the affected runs again"
    )
    return 0


def list_intervals(args: argparse.Namespace) -> int:
    """Print the bad time intervals."""
    with isoc_session(args.db) as session:
        rows = dq.intervals(session, active_only=not args.all)
    if args.json:
        print(json.dumps([_interval_json(i) for i in rows], indent=1))
        return 0
    print(f"{len(rows)} bad time intervals" + ("" if args.all else " in force"))
    for i in rows:
        print(_interval_line(i))
    return 0
