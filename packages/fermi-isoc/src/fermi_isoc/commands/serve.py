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
    p.add_argument(
        "--trusted-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the page answers besides localhost and 127.0.0.1 (repeat; also "
        "FERMI_ISOC_TRUSTED_HOSTS, comma separated); any other Host header gets 400",
    )
    p.add_argument(
        "--token-failures",
        type=int,
        default=5,
        help="wrong operator tokens a client may send within --token-window before its writes get 429 (default 5)",
    )
    p.add_argument(
        "--token-window", type=float, default=300.0, help="window of --token-failures, seconds (default 300)"
    )
    p.add_argument(
        "--cache-seconds",
        type=float,
        default=2.0,
        help="seconds the listings and the alarm evaluation are shared by concurrent requests (default 2; "
        "0: computed for each request); a re-run request or an acknowledgement clears them",
    )
    p.add_argument(
        "--runbook-dir", help="folder of the runbook pages (default: docs/operations of the checkout)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start the server (blocks until interrupted)."""
    import uvicorn

    from fermi_isoc.web.app import Settings, create_app

    if args.refresh < 1:
        print(f"fermi-isoc serve: error: --refresh must be >= 1 s, got {args.refresh}")
        return 2
    if args.token_failures < 1 or args.token_window <= 0:
        print(
            f"fermi-isoc serve: error: --token-failures {args.token_failures} and --token-window "
            f"{args.token_window}: both must be positive"
        )
        return 2
    settings = Settings(
        db_url=args.db, alarms_path=args.alarms, refresh_seconds=args.refresh,
        trusted_hosts=tuple(args.trusted_host), token_failures=args.token_failures,
        token_window_s=args.token_window, runbook_dir=args.runbook_dir, cache_seconds=max(0.0, args.cache_seconds),
    )  # fmt: skip
    try:
        app = create_app(settings)
    except (AlarmConfigError, ValueError) as exc:
        print(f"fermi-isoc serve: error: {exc}")
        return 2
    print(
        f"fermi-isoc serve: http://{args.host}:{args.port}/ answering the host names "
        f"{', '.join(app.state.trusted_hosts)} (others get 400; add one with --trusted-host)"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
