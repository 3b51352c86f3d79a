"""``fermi-isoc serve``: the status page on 127.0.0.1 (by default) with uvicorn."""

from __future__ import annotations

import argparse

from fermi_isoc.alarms import AlarmConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``serve``."""
    p = subparsers.add_parser(
        "serve",
        help="serve the status page (write actions need FERMI_ISOC_OPERATOR_TOKEN; no default token)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--db", help="database URL (default: FERMI_DB_URL)")
    p.add_argument("--alarms", help="alarm TOML file (default: the package's)")
    p.add_argument("--refresh", type=int, default=10, help="live refresh period of the tables, seconds")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start the server (blocks until interrupted)."""
    import uvicorn

    from fermi_isoc.web.app import Settings, create_app

    if args.refresh < 1:
        print(f"fermi-isoc serve: error: --refresh must be >= 1 s, got {args.refresh}")
        return 2
    try:
        app = create_app(Settings(db_url=args.db, alarms_path=args.alarms, refresh_seconds=args.refresh))
    except AlarmConfigError as exc:
        print(f"fermi-isoc serve: error: {exc}")
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
