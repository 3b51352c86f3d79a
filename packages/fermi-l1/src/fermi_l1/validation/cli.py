"""``fermi-l1 validate``: compare two versions (or campaigns) of the same runs and give a verdict.

::

    fermi-l1 validate --runs 239557414 239560000 --old-version 1 --new-version 2 --out DIR
    fermi-l1 validate --old-campaign 3 --new-campaign 4 --out DIR

Writes ``DIR/report.html`` (with its PNG plots), ``DIR/events.csv`` and ``DIR/verdict.json``,
prints one line per failing or warning check and the verdict. Exit code: 0 accept, 1 warn,
2 reject, 3 could not compare (bad input, missing or changed product, unusable configuration,
database unreachable).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fermi_core import logs
from fermi_core.dbguard import call_guarded
from fermi_core.errors import BadInput
from fermi_core.site import Site
from fermi_sciencetools_shim.errors import ShimError

COMMAND = "fermi-l1 validate"
#: Exit code when the comparison could not be made.
EXIT_ERROR = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``validate`` sub-command (its handler in ``set_defaults(handler=...)``)."""
    p = subparsers.add_parser(
        "validate",
        help="compare two versions or campaigns of the same runs: HTML report, JSON verdict "
        "(exit 0 accept, 1 warn, 2 reject, 3 could not compare)",
        description="Release validation: event counts per class and type, column distributions (KS test), "
        "changed events, GTI, livetime and FT2 of two versions of the same runs, judged against the "
        "thresholds of the configuration. Exit code 0 accept, 1 warn, 2 reject, 3 could not compare.",
    )
    p.add_argument(
        "--runs", nargs="+", metavar="RUN", help="LAT runs (239557414 or r0239557414; commas allowed)"
    )
    p.add_argument(
        "--old-version",
        type=int,
        metavar="N",
        help="file version of the old side (default: the one before the new)",
    )
    p.add_argument(
        "--new-version", type=int, metavar="N", help="file version of the new side (default: the latest)"
    )
    p.add_argument(
        "--old-campaign", metavar="CAMPAIGN", help="old side = the versions this reprocessing campaign made"
    )
    p.add_argument(
        "--new-campaign", metavar="CAMPAIGN", help="new side = the versions this reprocessing campaign made"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="report folder (report.html, verdict.json, events.csv)"
    )
    p.add_argument(
        "--config", metavar="FILE", help="thresholds TOML (default: fermi_l1/validation/default.toml)"
    )
    p.add_argument("--home", default=argparse.SUPPRESS, help="data tree root (default: $FERMI_HOME)")
    p.add_argument("--db-url", default=argparse.SUPPRESS, help="database URL (default: $FERMI_DB_URL)")
    p.set_defaults(handler=run)


def _site(args: argparse.Namespace) -> Site:
    return Site.from_env(home=getattr(args, "home", None), db_url=getattr(args, "db_url", None))


def _validate(args: argparse.Namespace) -> int:
    from fermi_l1.db import session
    from fermi_l1.validation.compare import compare, data_types
    from fermi_l1.validation.config import load_config
    from fermi_l1.validation.report import write_report
    from fermi_l1.validation.selection import (
        SelectionError,
        campaign_versions,
        fixed_versions,
        load_side,
        parse_runs,
        previous_versions,
    )

    if args.old_campaign is not None and args.old_version is not None:
        raise SelectionError("give --old-version or --old-campaign, not both")
    if args.new_campaign is not None and args.new_version is not None:
        raise SelectionError("give --new-version or --new-campaign, not both")
    config = load_config(args.config)
    site = _site(args)
    key_type = config.events_product
    with session(site.db_url) as s:
        runs = parse_runs(args.runs or [])
        if args.new_campaign is not None:
            new = campaign_versions(s, args.new_campaign)
            new_label = f"campaign {args.new_campaign}"
        else:
            if not runs and args.old_campaign is None:
                raise SelectionError("say which runs: --runs, or --old-campaign/--new-campaign")
            new = fixed_versions(
                s, runs or sorted(campaign_versions(s, args.old_campaign)), args.new_version, key_type
            )
            new_label = _label(new, "new")
        if runs:
            missing = [r for r in runs if r not in new]
            if missing:
                raise SelectionError(f"{new_label} has no version of run(s) {', '.join(map(str, missing))}")
            new = {r: new[r] for r in runs}
        if args.old_campaign is not None:
            made = campaign_versions(s, args.old_campaign)
            missing = [r for r in new if r not in made]
            if missing:
                raise SelectionError(
                    f"campaign {args.old_campaign} has no version of run(s) {', '.join(map(str, missing))}"
                )
            old, old_label = {r: made[r] for r in new}, f"campaign {args.old_campaign}"
        elif args.old_version is not None:
            old = fixed_versions(s, sorted(new), args.old_version, key_type)
            old_label = _label(old, "old")
        else:
            old = previous_versions(s, new, key_type)
            old_label = _label(old, "old")
        if old_label == new_label:
            old_label, new_label = f"{old_label} (old)", f"{new_label} (new)"
        types = data_types(config)
        old_side = load_side(s, site, old_label, old, types)
        new_side = load_side(s, site, new_label, new, types)
    cmp = compare(old_side, new_side, config)
    files = write_report(cmp, args.out)
    for c in cmp.checks:
        if c.status != "ok":
            print(f"{COMMAND}: {c.status}: {c.name}: {c.detail}")
    what = "no difference" if not cmp.differences else f"{len(cmp.differences)} check(s) found differences"
    print(f"{COMMAND}: {old_label} -> {new_label}, {len(new)} run(s): {what}; verdict {cmp.verdict} "
          f"(report {files.html}, verdict {files.verdict})")  # fmt: skip
    return cmp.exit_code


def _label(versions: dict[int, int], side: str) -> str:
    distinct = sorted(set(versions.values()))
    return f"v{distinct[0]:03d}" if len(distinct) == 1 else f"{side} versions"


def run(args: argparse.Namespace) -> int:
    """Handler of ``validate``: the comparison's exit code, or :data:`EXIT_ERROR` with one line."""
    try:
        return call_guarded(COMMAND, lambda: _site(args).db_url, _validate, args, exit_code=EXIT_ERROR)
    except (BadInput, ShimError, OSError) as exc:
        print(f"{COMMAND}: error: {exc}")
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with only ``validate`` (what ``fermi-l1`` registers too)."""
    parser = argparse.ArgumentParser(prog="fermi-l1", description="Release validation of L1 products.")
    logs.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``validate`` with ``argv`` (``validate --runs ...``) and return the exit code."""
    args = build_parser().parse_args(argv)
    logs.configure(args)
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
