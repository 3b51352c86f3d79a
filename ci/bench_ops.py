#!/usr/bin/env python3
"""Operations at mission scale: time every page of the status app and the evaluation of all alarms.

For each backend (SQLite, and PostgreSQL when ``--pg-url`` or ``$FERMI_TEST_PG_URL`` names a
server where databases may be created), a fresh database is filled with a month of mission-rate
history (``packages/fermi-isoc/tests/_monthworld.py``: ≈ 450 LAT runs, ≈ 20 k task runs and
attempts, halfpipe runs in every state, deliveries and gaps). Then every GET route of the app
(enumerated from ``app.routes``, path parameters filled from that month, plus the filtered and
paged variants of the listings) is requested through Starlette's TestClient, ``--repeat`` times
after one warm-up, and all alarms of the default file are evaluated ``--repeat`` times.

Targets (issue 17): every page ≤ 300 ms, all alarms ≤ 1 s (the median of the repeats is
compared). Exit code 0 when every target is met, 1 otherwise. The web cache is off (every request
reads the database). On PostgreSQL the planner statistics are gathered (``ANALYZE``) after the
load, as autovacuum does on a server within minutes of it. Each line also gives the SQL
statements a request runs and their time (the machine may be shared: those say what a page
costs the database whatever else runs).

    .venv/bin/python ci/bench_ops.py [--repeat 5] [--pg-url postgresql+psycopg://...] [--sqlite-only]

This is a benchmark, not a test: the tests at that scale check correctness
(``packages/fermi-isoc/tests/test_month_scale.py``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packages" / "fermi-isoc" / "tests"))

PAGE_TARGET_MS = 300.0
ALARMS_TARGET_MS = 1000.0


def _pg_database(server: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"fermi_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(server: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from fermi_core import db as fdb

    engine = fdb._ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _analyze(url: str) -> None:
    """Gather PostgreSQL's planner statistics of every table, as autovacuum does after a load."""
    from sqlalchemy import text

    from fermi_core.db import get_engine

    with get_engine(url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def _examples(url: str, world) -> dict[str, str]:
    """Values for the path parameters of the routes, taken from the month."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from fermi_core.db import get_engine
    from fermi_core.engine.models import Task, TaskAttempt, TaskRun
    from fermi_ingest.models import Delivery

    with Session(get_engine(url)) as s:
        delivery = s.scalar(select(Delivery.delivery_id).order_by(Delivery.id.desc()).offset(8).limit(1))
        task, key, log = s.execute(
            select(Task.name, TaskRun.key, TaskAttempt.log_path)
            .join(TaskRun, TaskRun.task_pk == Task.id)
            .join(TaskAttempt, TaskAttempt.run_pk == TaskRun.id)
            .where(Task.name == "l1run", TaskAttempt.number == 1)
            .order_by(TaskRun.id.desc())
            .limit(1)
        ).one()
    return {
        "run_id": str(world.lat_runs[-10]),
        "delivery_id": delivery,
        "key": f"{task}/{key}",
        "step": task,
        "attempt": "1",
        "name": "held-run",
        "_log": log,
    }


def _urls(app, examples: dict[str, str]) -> list[tuple[str, str]]:
    """``(route, url)`` of every GET route, plus the filtered and paged variants of the listings."""
    from starlette.routing import Route

    out = []
    for route in app.routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        if "/dq/plots/" in route.path:  # a run's monitoring PNGs: the month fixture makes none
            continue
        url = route.path
        for name in route.param_convertors:
            url = url.replace(f"{{{name}:path}}", examples[name]).replace(f"{{{name}}}", examples[name])
        out.append((route.path, url))
    listings = {path for path, _ in out}
    variants = [
        ("/", "/?hp=held"),
        ("/", "/?state=failed"),
        ("/", "/?page=10"),
        ("/", f"/?q={examples['run_id']}"),
        ("/fragments/lat-runs", "/fragments/lat-runs?page=5"),
        ("/task-runs", "/task-runs?state=failed"),
        ("/task-runs", "/task-runs?offset=10000"),
        ("/fragments/runs", "/fragments/runs?offset=19000"),
    ]
    out.extend(v for v in variants if v[0] in listings)
    return out


class StatementTimer:
    """Counts the SQL statements an engine runs and the time they take (client side, ms).

    The machine the benchmark runs on may be shared: the statement count and the SQL time say
    how much work a page asks of the database whatever else runs, the wall time how long it took.
    """

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.count = 0
        self.sql_ms = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        self.sql_ms += (time.perf_counter() - conn.info["bench_t0"].pop()) * 1000.0

    def reset(self) -> None:
        self.count, self.sql_ms = 0, 0.0


def _time(call, repeat: int, timer: StatementTimer | None = None) -> tuple[list[float], object, int, float]:
    """``(wall times ms, last result, statements per call, median SQL ms per call)`` of ``repeat`` calls."""
    result = call()  # warm-up (templates compiled, tables seen)
    times, sql, counts = [], [], []
    for _ in range(repeat):
        if timer is not None:
            timer.reset()
        t0 = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t0) * 1000.0)
        if timer is not None:
            counts.append(timer.count)
            sql.append(timer.sql_ms)
    return times, result, max(counts, default=0), statistics.median(sql) if sql else 0.0


def bench(backend: str, url: str, home: Path, repeat: int) -> bool:
    """Build the month on ``url``, time pages and alarms, print the table; True when every target is met."""
    from _monthworld import build_month
    from sqlalchemy.orm import Session

    from fermi_core.db import get_engine
    from fermi_isoc.alarms import Context, evaluate, load_alarms

    home.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    world = build_month(url)
    built = time.perf_counter() - t0
    print(
        f"\n== {backend}: month built in {built:.1f} s: {len(world.lat_runs)} LAT runs, "
        f"{world.n_task_runs} task runs, {world.n_attempts} attempts, {world.n_deliveries} deliveries, "
        f"halfpipe {dict(world.halfpipe_states)}"
    )
    if backend == "postgresql":
        _analyze(url)
        print("planner statistics: ANALYZE run (autovacuum gathers them within minutes of a load,")
        print("  so a month-old database has them; without them the index's SQL took 140 ms, not 86 ms)")
    from fastapi.testclient import TestClient

    from fermi_isoc.web.app import Settings, create_app

    # the web cache off: every request reads the database (what the targets are about)
    settings = Settings(db_url=url, home=str(home), trusted_hosts=("localhost",), cache_seconds=0.0)
    app = create_app(settings)
    examples = _examples(url, world)
    log = home / examples["_log"]
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("attempt log of the benchmark\n")
    ok = True
    timer = StatementTimer(get_engine(url))
    print(f"web cache: {settings.cache_seconds:g} s (0: every request reads the database)")
    print(
        f"{'page':<46} {'status':>6} {'median ms':>10} {'max ms':>8} {'stmts':>6} {'sql ms':>7}  "
        f"target {PAGE_TARGET_MS:.0f} ms"
    )
    with TestClient(app, base_url="http://localhost") as client:
        for _route, page_url in _urls(app, examples):
            times, response, n_sql, sql_ms = _time(lambda u=page_url: client.get(u), repeat, timer)
            median = statistics.median(times)
            good = response.status_code == 200 and median <= PAGE_TARGET_MS
            ok &= good
            print(
                f"{page_url[:46]:<46} {response.status_code:>6} {median:>10.1f} {max(times):>8.1f} "
                f"{n_sql:>6} {sql_ms:>7.1f}  {'ok' if good else 'MISSED'}"
            )
    specs = load_alarms()
    with Session(get_engine(url)) as s:
        times, results, n_sql, sql_ms = _time(
            lambda: evaluate(specs, Context(s, fermi_home=home)), repeat, timer
        )
        s.rollback()
    median = statistics.median(times)
    good = median <= ALARMS_TARGET_MS
    ok &= good
    firing = sum(r.firing and r.severity > 0 for r in results)
    print(
        f"{'all ' + str(len(specs)) + ' alarms (' + str(len(results)) + ' items, ' + str(firing) + ' firing)':<46} "
        f"{'':>6} {median:>10.1f} {max(times):>8.1f} {n_sql:>6} {sql_ms:>7.1f}  "
        f"target {ALARMS_TARGET_MS:.0f} ms: {'ok' if good else 'MISSED'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on each backend; return 0 when every target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page (after one warm-up)")
    parser.add_argument("--pg-url", default=os.environ.get("FERMI_TEST_PG_URL", ""),
                        help="PostgreSQL server where a database may be created (default $FERMI_TEST_PG_URL)")  # fmt: skip
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    from fermi_core.schema import normalize_url

    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as tmp:
        ok &= bench("sqlite", f"sqlite:///{tmp}/fermi.db", Path(tmp) / "home-sqlite", args.repeat)
        if args.pg_url and not args.sqlite_only:
            server = normalize_url(args.pg_url)
            url = _pg_database(server)
            try:
                ok &= bench("postgresql", url, Path(tmp) / "home-pg", args.repeat)
            finally:
                _drop_pg_database(server, url)
        elif not args.sqlite_only:
            print("\n== postgresql: skipped (no --pg-url and $FERMI_TEST_PG_URL unset)")
    print(f"\n{'every target met' if ok else 'some targets MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
