"""Load test of the status page: bounded requests from concurrent clients on a loopback server.

The page is served by ``fermi-isoc serve`` (uvicorn) in a subprocess on 127.0.0.1, over a
database filled with LAT runs done (deliveries, chunks, halfpipe states, recon crumbs, run
inputs, L1 products; ``packages/fermi-isoc/tests/_pageworld.py``). ``--concurrency`` client
threads send ``--requests`` GET requests in all, cycling over eight pages (the grouped index,
a filter, page 2, the live-refresh fragment, a LAT run's timeline page, a delivery, the alarms
page and the Prometheus metrics). It prints, per backend, the count, errors (HTTP status other
than 200, or no answer within ``--timeout``), median, p99 and maximum latency and throughput,
and exits 1 unless every backend had 0 errors and p99 <= ``--p99-limit`` seconds.

Backends: SQLite (a fresh file) and PostgreSQL when ``$FERMI_TEST_PG_URL`` names a server where a
database may be created (a fresh one, dropped at the end); ``--backend`` picks one.

    .venv/bin/python ci/load_test.py                  # 2000 requests, 20 at a time, both backends
    .venv/bin/python ci/load_test.py --backend sqlite --requests 200
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLD = ROOT / "packages" / "fermi-isoc" / "tests" / "_pageworld.py"
PG_ENV = "FERMI_TEST_PG_URL"


@dataclass
class Figures:
    """What one load run measured."""

    backend: str
    count: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    by_page: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    first_errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median latency, seconds."""
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        """99th percentile latency, seconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]

    def line(self) -> str:
        """One line of figures."""
        rate = self.count / self.wall_s if self.wall_s else 0.0
        return (
            f"{self.backend}: count {self.count}, errors {self.errors}, median {self.median * 1000:.0f} ms, "
            f"p99 {self.p99 * 1000:.0f} ms, max {max(self.latencies, default=0) * 1000:.0f} ms, "
            f"{rate:.1f} requests/s over {self.wall_s:.1f} s"
        )

    def pages(self) -> list[str]:
        """One line per page: its median and slowest latency."""
        return [
            f"  {page}: median {statistics.median(ts) * 1000:.0f} ms, max {max(ts) * 1000:.0f} ms"
            for page, ts in self.by_page.items()
        ]


def _world():
    spec = importlib.util.spec_from_file_location("isoc_pageworld", WORLD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fill(url: str, n_runs: int, crumbs: int) -> list[str]:
    """Make the tables of ``url`` and fill them; return the eight pages to request."""
    import fermi_halfpipe.models  # noqa: F401
    import fermi_ingest.models  # noqa: F401
    import fermi_isoc.models  # noqa: F401
    import fermi_l1.catalog.models  # noqa: F401
    from fermi_core.db import get_engine

    get_engine(url)
    first = 797000000
    _world().populate_many_lat_runs(url, datetime.now(timezone.utc), n_runs, crumbs=crumbs, first_run=first)
    run = first + 3600 * (n_runs // 2)
    return [
        "/", "/?state=done", "/?page=2", "/fragments/lat-runs?hp=complete", f"/lat-runs/{run}",
        f"/deliveries/27{n_runs // 2:07d}", "/alarms", "/metrics",
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, home: Path, log: Path, cache_seconds: float = 2.0) -> tuple[subprocess.Popen, str]:
    """Start ``fermi-isoc serve`` on a free loopback port; return the process and its base URL."""
    import httpx

    port = _free_port()
    env = {**os.environ, "FERMI_DB_URL": url, "FERMI_HOME": str(home)}
    code = "import sys; from fermi_isoc.cli import main; sys.exit(main(sys.argv[1:]))"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--db", url, "--port", str(port), "--cache-seconds", str(cache_seconds)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fermi-isoc serve exited with {proc.returncode}: see {log}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"fermi-isoc serve did not answer within 60 s: see {log}")


def load(
    base: str, pages: list[str], requests: int, concurrency: int, timeout: float, backend: str
) -> Figures:
    """Send ``requests`` GETs over ``pages`` round-robin from ``concurrency`` threads."""
    import httpx

    figures = Figures(backend)
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        with httpx.Client(base_url=base, timeout=timeout) as http:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                page = pages[i % len(pages)]
                t0 = time.perf_counter()
                try:
                    r = http.get(page)
                    problem = (
                        None if r.status_code == 200 else f"{page}: HTTP {r.status_code} {r.text[:200]!r}"
                    )
                except httpx.HTTPError as exc:
                    problem = f"{page}: {type(exc).__name__}: {exc}"
                dt = time.perf_counter() - t0
                with lock:
                    figures.count += 1
                    figures.latencies.append(dt)
                    figures.by_page.setdefault(page, []).append(dt)
                    if problem:
                        figures.errors += 1
                        if len(figures.first_errors) < 5:
                            figures.first_errors.append(problem)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    figures.wall_s = time.perf_counter() - t0
    return figures


def _pg_database(server: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from fermi_core.db import normalize_url

    server = normalize_url(server)
    name = f"fermi_load_{uuid.uuid4().hex[:12]}"
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
    admin = create_engine(fdb.normalize_url(server), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> Figures:
    """Fill a fresh database of ``backend``, serve it, load it, stop the server; return the figures."""
    server = os.environ.get(PG_ENV, "").strip()
    url = f"sqlite:///{work / 'load.db'}" if backend == "sqlite" else _pg_database(server)
    try:
        pages = fill(url, args.runs, args.crumbs)
        home = work / f"home-{backend}"
        home.mkdir(exist_ok=True)
        log = work / f"serve-{backend}.log"
        proc, base = serve(url, home, log, args.cache_seconds)
        try:
            load(
                base,
                pages,
                min(len(pages) * 2, args.requests),
                min(4, args.concurrency),
                args.timeout,
                backend,
            )
            return load(base, pages, args.requests, args.concurrency, args.timeout, backend)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        if backend == "postgresql":
            _drop_pg_database(server, url)


def main(argv: list[str] | None = None) -> int:
    """Run the load test; exit 0 when every backend had 0 errors and p99 within the limit."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--requests", type=int, default=2000, help="requests in all (default 2000)")
    p.add_argument("--concurrency", type=int, default=20, help="clients at once (default 20)")
    p.add_argument("--runs", type=int, default=40, help="LAT runs in the database (default 40)")
    p.add_argument("--crumbs", type=int, default=20, help="recon crumbs per LAT run (default 20)")
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds a request may take before it is an error"
    )
    p.add_argument(
        "--cache-seconds",
        type=float,
        default=2.0,
        help="the server's --cache-seconds (default 2, as serve's; 0: off)",
    )
    p.add_argument(
        "--p99-limit", type=float, default=1.0, help="largest p99 latency passed, seconds (default 1)"
    )
    args = p.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.runs < 3:
        p.error("--requests and --concurrency must be positive, --runs at least 3")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not os.environ.get(PG_ENV, "").strip():
        if args.backend == "postgresql":
            print(f"load_test: error: ${PG_ENV} is unset: no PostgreSQL server to test")
            return 2
        print(f"load_test: PostgreSQL skipped: ${PG_ENV} is unset")
        backends.remove("postgresql")
    ok = True
    print(f"load test: {args.requests} requests, {args.concurrency} at a time, 8 pages round-robin, "
          f"{args.runs} LAT runs of {args.crumbs} crumbs, server cache {args.cache_seconds:g} s")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="isoc-load-") as tmp:
        for backend in backends:
            figures = run_backend(backend, args, Path(tmp))
            print(figures.line(), flush=True)
            print("\n".join(figures.pages()))
            for problem in figures.first_errors:
                print(f"  error: {problem}")
            if figures.errors or not figures.p99 <= args.p99_limit:
                ok = False
                print(
                    f"  FAILED: {figures.errors} errors, p99 {figures.p99:.3f} s (limit {args.p99_limit} s)"
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
