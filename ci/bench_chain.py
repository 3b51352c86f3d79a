"""Chain benchmark (not a test): simulated hours through ingest → merge → L1 → outbox, against kernels.

``make bench-chain`` (``HOURS=3 PROFILE=flight``) runs::

    python ci/bench_chain.py [--hours H] [--profile flight|light] [--charged-scale X] [--workers N]
                             [--home DIR] [--keep] [--json OUT.json] [--profile-stage STAGE]

1. simulates ``--hours`` of LAT telemetry (``fermi_latsim.simulate``; the ``flight`` profile when
   the simulator offers it, else ``light``, said so in one line) into a fresh data home;
2. runs each stage through its command, exactly as the demo runs it, each stage in a process of
   its own (so its peak RSS is its own): ``fermi-ingest ingest`` of every delivery,
   ``fermi-halfpipe merge`` of every delivery, ``fermi-l1 pipeline --from-halfpipe`` (digi →
   recon → FT1/FT2 → catalog → outbox, with ``--workers`` worker processes);
3. measures, on the same data in the same run, each stage's kernel floor: the CCSDS decode of the
   delivery files (``fermi_ingest.ccsds.decode_file``; also SHA-256 + one copy of every byte,
   what an ingest must at least do besides decoding), the halfpipe merge kernel and record gather
   over every run's events (``fermi_halfpipe.release.merge_order`` / ``gather_records``), the
   digi + recon kernels on one merged file (``fermi_l1.digi.decode_events`` +
   ``fermi_l1.recon.reconstruct``) scaled to all events and the cores used, and writing the FT1/FT2
   columns of every product with astropy;
4. prints per stage wall time, events/s, MB/s, peak RSS (the stage's process, and its largest
   child: L1's workers), the kernel floor, the ratio stage / kernel, and the whole chain as a
   multiple of real time. ``--json`` also writes the figures to a file (the nightly artifact).

``--profile-stage ingest|merge|l1`` (repeatable) runs that stage under :mod:`cProfile` (in its
own process, as always) and prints the 25 top lines by cumulative time after the table (the
profiler's overhead is in that stage's wall time then: time the table without it). For ``l1`` the
profile covers the driver process; the tasks run in the workers (use ``--workers 1`` to keep the
pool small, the driver's own share then shows what is not parallel).

The first numba call of each kernel (compilation or loading the cache) is made before timing.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

STAGES = ("ingest", "merge", "l1")
MB = 1e6


# ------------------------------------------------------------------------------------------
# the child process: one stage (or the simulation), its wall time and peak RSS, maybe a profile
# ------------------------------------------------------------------------------------------


def _run_main(module_name: str, argv: list[str]) -> int:
    import importlib

    module = importlib.import_module(module_name)
    try:
        return int(module.main(argv) or 0)
    except SystemExit as exc:  # argparse errors
        return int(exc.code or 0)


#: the command module of each child kind (imported before the clock starts: start-up is reported apart)
MODULES = {
    "db": "fermi_core.cli",
    "ingest": "fermi_ingest.cli",
    "merge": "fermi_halfpipe.cli",
    "l1": "fermi_l1.cli",
    "simulate": "fermi_latsim.simulate",
}


def _stage_calls(spec: dict) -> Callable[[], int]:
    """The work of a child described by ``spec`` (see :func:`_child`), as one callable."""
    where = ["--home", spec["home"], "--db-url", spec["db_url"]]
    kind = spec["kind"]
    if kind == "simulate":
        return lambda: _simulate(spec)
    if kind == "db":
        return lambda: _run_main("fermi_core.cli", [*where, "db", "upgrade"])
    if kind == "ingest":
        return lambda: max(
            [_run_main("fermi_ingest.cli", [*where, "ingest", p]) for p in spec["deliveries"]], default=0
        )
    if kind == "merge":
        return lambda: max(
            [_run_main("fermi_halfpipe.cli", [*where, "merge", d]) for d in spec["delivery_ids"]], default=0
        )
    if kind == "l1":
        argv = [*where, "pipeline", "--from-halfpipe", "--no-progress", "--workers", str(spec["workers"])]
        return lambda: _run_main("fermi_l1.cli", argv)
    raise ValueError(f"unknown child kind {kind!r}")


def _simulate(spec: dict) -> int:
    from fermi_latsim import simulate as sim

    cfg = sim.SimulationConfig(hours=spec["hours"], seed=spec["seed"], **spec["config"])
    if spec.get("charged_scale") is not None:
        model = cfg.model
        cfg = dataclasses.replace(
            cfg,
            model=dataclasses.replace(
                model, cosmic_ray_rate_hz=model.cosmic_ray_rate_hz * spec["charged_scale"]
            ),
        )
    summary = sim.simulate(Path(spec["out"]), cfg)
    Path(spec["summary"]).write_text(json.dumps(summary, default=str), encoding="utf-8")
    return 0


def _child(spec_path: str) -> int:
    """Run the work of the spec file; write wall time, exit code, peak RSS (and a profile) beside it."""
    import importlib

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    importlib.import_module(MODULES[spec["kind"]])
    work = _stage_calls(spec)
    profile_text = None
    t0 = time.perf_counter()
    if spec.get("profile"):
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        rc = prof.runcall(work)
        wall = time.perf_counter() - t0
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs()
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)  # where the time is spent itself
        profile_text = buf.getvalue()
    else:
        rc = work()
        wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    out = {"rc": rc, "wall": wall, "rss": own, "child_rss": kids, "profile": profile_text, "pid": os.getpid()}
    Path(spec["result"]).write_text(json.dumps(out), encoding="utf-8")
    return 0


def run_child(spec: dict, workdir: Path, log: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``spec`` in a fresh Python process; return its result (wall, rc, rss, child_rss, profile, pid).

    ``env``: variables set for the process (and its workers) on top of this process's environment.
    """
    name = spec["kind"]
    spec = {**spec, "result": str(workdir / f"{name}.result.json")}
    spec_path = workdir / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    t0 = time.perf_counter()
    with open(log, "ab") as fh:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(spec_path)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env} if env else None,
        )
    outer = time.perf_counter() - t0
    result_path = Path(spec["result"])
    if proc.returncode != 0 or not result_path.is_file():
        raise RuntimeError(f"stage {name}: process exited {proc.returncode}; see {log}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if result["rc"] != 0:
        raise RuntimeError(f"stage {name}: command exited {result['rc']}; see {log}")
    result["process_wall"] = outer  # with interpreter start and imports
    result["startup"] = outer - result["wall"]
    return result


# ------------------------------------------------------------------------------------------
# numba compile logs (FERMI_JIT_LOG of fermi_sciencetools_shim.jit)
# ------------------------------------------------------------------------------------------


def jit_env(workdir: Path, name: str, cold_cache: Path | None) -> dict[str, str]:
    """The environment of child ``name``: its compile log folder, and the fresh numba cache if cold."""
    env = {"FERMI_JIT_LOG": str(workdir / "jit" / name)}
    if cold_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cold_cache)
    return env


def jit_summary(folder: Path, driver_pid: int | None) -> dict:
    """Compile seconds logged in ``folder``: the driver's, the largest other process's, and the compiles.

    ``stage_s`` is the driver's plus the largest single other process's (the workers compile in
    parallel, the driver before and after them); ``processes`` counts the processes that compiled.
    """
    per_pid: dict[int, float] = {}
    compiles: list[dict] = []
    for path in sorted(folder.glob("jit-*.tsv")) if folder.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) != 4:
                continue
            pid, seconds = int(parts[0]), float(parts[3])
            per_pid[pid] = per_pid.get(pid, 0.0) + seconds
            compiles.append({"pid": pid, "function": parts[1], "signature": parts[2], "seconds": seconds})
    driver = per_pid.get(driver_pid, 0.0) if driver_pid is not None else 0.0
    others = {k: v for k, v in per_pid.items() if k != driver_pid}
    slowest = max(others, key=others.__getitem__, default=None)
    compiles.sort(key=lambda c: -c["seconds"])
    return {
        "driver_s": driver,
        "worker_max_s": others.get(slowest, 0.0) if slowest is not None else 0.0,
        "stage_s": driver + (others[slowest] if slowest is not None else 0.0),
        "processes": len(per_pid),
        "critical_pids": [p for p in (driver_pid, slowest) if p is not None],
        "compiles": compiles,
    }


def jit_lines(jit: dict[str, dict], top: int = 6) -> list[str]:
    """One line per child that compiled: its compile seconds, processes, and its largest compiles."""
    lines = []
    for name, j in jit.items():
        if not j["compiles"]:
            lines.append(f"  {name}: nothing compiled (every kernel from the cache)")
            continue
        by_fn: dict[str, list[float]] = {}
        for c in j["compiles"]:
            if c["pid"] not in j["critical_pids"]:
                continue  # the top list: the driver's and the slowest other process's compiles
            by_fn.setdefault(c["function"].rsplit(".", 1)[-1], []).append(c["seconds"])
        worst = sorted(by_fn.items(), key=lambda kv: -sum(kv[1]))[:top]
        shown = ", ".join(
            f"{fn} {sum(v):.1f}" + (f" ({len(v)} sigs)" if len(v) > 1 else "") for fn, v in worst
        )
        lines.append(
            f"  {name}: {j['stage_s']:.1f} s ({j['processes']} processes compiled, driver {j['driver_s']:.1f} s, "
            f"largest other {j['worker_max_s']:.1f} s, {len(j['compiles'])} compiles); top: {shown}"
        )
    return lines


# ------------------------------------------------------------------------------------------
# the simulator's options
# ------------------------------------------------------------------------------------------


def simulation_options(profile: str, charged_scale: float | None) -> tuple[dict, str, list[str]]:
    """SimulationConfig keywords for ``profile``, the profile really used, and notes to print.

    The ``flight`` profile is used when ``SimulationConfig`` has a ``profile`` field accepting it;
    otherwise ``light`` (today's rates), with a note saying so.
    """
    from fermi_latsim import simulate as sim

    fields = {f.name for f in dataclasses.fields(sim.SimulationConfig)}
    notes: list[str] = []
    config: dict = {}
    used = profile
    if "profile" in fields:
        known = getattr(sim, "PROFILES", None)
        if known is not None and profile not in known:
            notes.append(
                f"NOTE: the simulator has no '{profile}' profile (it has: {', '.join(known)}); using 'light'"
            )
            used = "light"
        config["profile"] = used
    else:
        if profile != "light":
            notes.append(
                f"NOTE: fermi_latsim.simulate has no profiles yet: '{profile}' not available, "
                "running today's rates (the 'light' profile)"
            )
        used = "light"
    if "workers" in fields and hasattr(sim, "default_workers"):
        config["workers"] = sim.default_workers()  # as `fermi-latsim simulate` runs by default
    if charged_scale is not None:
        import fermi_latsim.sky as sky

        if "cosmic_ray_rate_hz" not in {f.name for f in dataclasses.fields(sky.SkyModel)}:
            raise SystemExit("--charged-scale: the simulator's SkyModel has no cosmic_ray_rate_hz")
        notes.append(f"charged-particle rate x{charged_scale:g} (SkyModel.cosmic_ray_rate_hz)")
    return config, used, notes


# ------------------------------------------------------------------------------------------
# kernel floors (in this process, on the data the stages just processed)
# ------------------------------------------------------------------------------------------


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def delivery_files(home: Path, delivery_ids: list[str]) -> list[Path]:
    """The packet files of the simulated deliveries (not their manifests)."""
    out = []
    for d in delivery_ids:
        folder = home / "latsim" / "deliveries" / d
        out += sorted(p for p in folder.iterdir() if p.is_file() and p.name != "manifest.json")
    return out


def ingest_floor(files: list[Path], repeat: int) -> tuple[float, float]:
    """(decode_file over every file, SHA-256 + one copy of every byte) best times, s."""
    import hashlib

    import numpy as np

    from fermi_ingest.ccsds import decode_file

    decode_file(files[0])  # compile or load the cache
    t_dec = sum(_best(lambda f=f: decode_file(f), repeat) for f in files)

    def hash_copy(f: Path) -> None:
        data = np.fromfile(f, dtype=np.uint8)
        hashlib.sha256(data).hexdigest()
        data.copy()

    t_sha = sum(_best(lambda f=f: hash_copy(f), repeat) for f in files)
    return t_dec, t_sha


def merged_inputs(site) -> dict[int, list]:  # type: ignore[no-untyped-def]
    """Merged files of each run (the halfpipe's published list)."""
    from fermi_core.db import session_scope
    from fermi_halfpipe.published import all_merged_files

    with session_scope(site.db_url) as session:
        files = all_merged_files(session, site)
    runs: dict[int, list] = {}
    for run, mf in files:
        runs.setdefault(int(run), []).append(mf)
    return runs


def _merge_step(gem, a_sel, b_sel, buf, src_off, lengths):  # type: ignore[no-untyped-def]
    """One run's merge as the halfpipe does it: the merge order, then the records gathered in it."""
    from fermi_halfpipe.release import gather_records, merge_order

    out, _ = merge_order(gem, a_sel, b_sel)
    return gather_records(buf, src_off[out], lengths[out])[0]


def _hash_write(records, sink: Path) -> None:  # type: ignore[no-untyped-def]
    """SHA-256 of a run's merged record bytes and one write of them (no fsync)."""
    import hashlib

    hashlib.sha256(records).hexdigest()
    with open(sink, "wb") as fh:
        fh.write(memoryview(records))


def merge_floor(
    runs: dict[int, list], repeat: int, sink: Path | None = None
) -> tuple[float, int, int, float]:
    """Merge kernel + gather over every run's events (per run, as its merge step sees them).

    With ``sink`` (a file), also SHA-256 and one write of each run's merged records to it.
    Returns (seconds, events, record bytes, hash + write seconds).
    """
    import numpy as np

    from fermi_halfpipe.outputs import read_merged
    from fermi_halfpipe.release import gather_records, merge_order

    total, n_events, n_bytes, warm, t_out = 0.0, 0, 0, False, 0.0
    for files in runs.values():
        parts = [read_merged(f.path) for f in files]
        gem = np.concatenate([p.columns["gem_seq"] for p in parts]).astype(np.int64)
        epu = np.concatenate([p.columns["epu"] for p in parts])
        lengths = np.concatenate([p.lengths for p in parts])
        buf = np.concatenate([p.records_buffer for p in parts])
        del parts
        # the records as two EPU streams, the way the halfpipe holds them before merging
        order = np.r_[np.flatnonzero(epu == epu.min()), np.flatnonzero(epu != epu.min())]
        src_off = np.cumsum(lengths) - lengths
        gem, lengths, src_off = gem[order], lengths[order], src_off[order]
        is_a = epu[order] == epu.min()
        a_sel, b_sel = np.flatnonzero(is_a), np.flatnonzero(~is_a)
        if not warm:
            merge_order(gem[:1000], a_sel[a_sel < 1000], b_sel[b_sel < 1000])
            gather_records(buf, src_off[:10], lengths[:10])
            warm = True

        total += _best(functools.partial(_merge_step, gem, a_sel, b_sel, buf, src_off, lengths), repeat)
        if sink is not None:
            records = _merge_step(gem, a_sel, b_sel, buf, src_off, lengths)
            t_out += _best(functools.partial(_hash_write, records, sink), repeat)
            del records
        n_events += int(gem.size)
        n_bytes += int(buf.size)
    if sink is not None:
        sink.unlink(missing_ok=True)
    return total, n_events, n_bytes, t_out


def event_payload_floor(files: list[Path], repeat: int) -> float:
    """Reading the event packets' payload bytes of every delivery file, best time, s.

    Each file read and decoded (``fermi_ingest.ccsds.decode_file``), then the payloads of its
    event APIDs gathered back to back (``fermi_halfpipe.datagram.gather_records``): what the
    merge gets from the ingest before it reassembles datagrams.
    """
    import numpy as np

    from fermi_halfpipe.datagram import gather_records
    from fermi_ingest.ccsds import DEFAULT_EVENT_APIDS, decode_file

    events = np.asarray(sorted(DEFAULT_EVENT_APIDS), dtype=np.int64)

    def read(f: Path) -> None:
        table = decode_file(f)
        sel = np.isin(table.apid, events)
        gather_records(table.buffer, table.payload_offset[sel], table.payload_length[sel])

    read(files[0])  # compile or load the cache
    return sum(_best(lambda f=f: read(f), repeat) for f in files)


def recon_rate(runs: dict[int, list], max_events: int, repeat: int) -> tuple[float, int]:
    """digi + recon events/s on one core, on (up to ``max_events`` of) the largest merged file."""
    from fermi_halfpipe.outputs import read_merged
    from fermi_l1.digi import decode_events
    from fermi_l1.recon import reconstruct

    biggest = max((f for files in runs.values() for f in files), key=lambda f: f.n_events)
    m = read_merged(biggest.path)
    n = min(len(m), max_events)
    off, ln = m.offsets[:n].copy(), m.lengths[:n].copy()
    reconstruct(decode_events(m.records_buffer, off[:200], ln[:200]))  # compile / load cache
    t = _best(lambda: reconstruct(decode_events(m.records_buffer, off, ln)), repeat)
    return n / t, n


def product_files(site) -> list[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    """(data type, path) of the latest catalogued products."""
    from fermi_core.db import session_scope
    from fermi_l1.catalog.api import product_path, query

    with session_scope(site.db_url) as session:
        return [(d.data_type, Path(product_path(d, site))) for d in query(session, latest_only=True)]


def _native(values):  # type: ignore[no-untyped-def]
    """A copy of a FITS column's stored values in native byte order (as a pipeline holds them)."""
    dt = values.dtype
    base = dt.base
    if base.kind in "iuf" and base.byteorder not in ("=", "|"):
        return values.astype(base.newbyteorder("="))
    return values.copy()


def fits_floor(products: list[tuple[str, Path]], workdir: Path, repeat: int) -> tuple[float, int, int]:
    """Writing the tables of every FITS product anew with astropy, from their columns.

    Each table's columns are read (native byte order, as a pipeline holds them); the floor is
    filling a FITS record array of the product's layout from them and writing it with astropy
    (``BinTableHDU(data=...)``, ``writeto``). Returns (seconds, table rows, bytes written).
    """
    import numpy as np
    from astropy.io import fits

    total, rows, n_bytes = 0.0, 0, 0
    out = workdir / "fits-floor.fits"
    for _dtype, path in products:
        if path.suffix.lower() not in (".fits", ".fit") or not path.is_file():
            continue
        with fits.open(path, memmap=False) as hdul:
            tables = [
                (h.header.copy(), raw.dtype, {n: _native(raw[n]) for n in raw.dtype.names})
                for h in hdul[1:]
                if isinstance(h, fits.BinTableHDU) and h.data is not None
                for raw in [np.asarray(h.data).view(np.ndarray)]
            ]  # bit columns (e.g. EVENT_CLASS) as their stored bytes
        for header, dtype, cols in tables:

            def write(header=header, dtype=dtype, cols=cols) -> None:
                n = len(next(iter(cols.values()))) if cols else 0
                rec = np.empty(n, dtype=dtype)
                for name, values in cols.items():
                    rec[name] = values
                fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(data=rec, header=header)]).writeto(
                    out, overwrite=True
                )

            total += _best(write, repeat)
            rows += len(next(iter(cols.values()))) if cols else 0
            n_bytes += out.stat().st_size
    out.unlink(missing_ok=True)
    return total, rows, n_bytes


# ------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def format_table(rows: list[dict]) -> list[str]:
    """The per-stage table: stage, wall (start-up, compiling apart), ev/s, MB/s, peak RSS, kernel floor, ratio."""
    head = (
        f"{'stage':<22}{'wall s':>9}{'start s':>8}{'jit s':>7}{'events/s':>12}{'MB/s':>9}{'peak RSS':>10}{'worker RSS':>11}"
        f"   {'kernel floor (same data)':<44}{'floor s':>9}{'stage/kernel':>13}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        wall = r.get("wall")
        evs = f"{r['events'] / wall:,.0f}" if wall and r.get("events") else ""
        mbs = f"{r['bytes'] / MB / wall:,.0f}" if wall and r.get("bytes") else ""
        rss = _gb(r["rss"]) if r.get("rss") else ""
        crss = _gb(r["child_rss"]) if r.get("child_rss") else ""
        floor = r.get("floor")
        ratio = f"{wall / floor:,.1f}x" if wall and floor else ""
        start = f"{r['startup']:.1f}" if r.get("startup") is not None else ""
        shown = f"{wall:.2f}" if wall is not None else ""
        jit = f"{r['jit']['stage_s']:.1f}" if r.get("jit") else ""
        lines.append(
            f"{r['stage']:<22}{shown:>9}{start:>8}{jit:>7}{evs:>12}{mbs:>9}{rss:>10}{crss:>11}"
            f"   {r.get('kernel', ''):<44}{floor if floor is not None else 0:>9.3f}{ratio:>13}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chain benchmark (see the module docstring); return 0, or 1 if a stage failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child(argv[1])
    parser = argparse.ArgumentParser(prog="ci/bench_chain.py", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="hours simulated (default 3)")
    parser.add_argument("--profile", choices=("flight", "light"), default="flight", help="simulator profile")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--charged-scale", type=float, default=None, help="multiply the simulator's charged-particle rate"
    )
    parser.add_argument("--workers", type=int, default=2, help="L1 worker processes (default 2)")
    parser.add_argument("--home", type=Path, default=None, help="data home (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the data home")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument(
        "--profile-stage",
        choices=STAGES,
        action="append",
        default=[],
        help="cProfile this stage (repeatable)",
    )
    parser.add_argument(
        "--cold-jit",
        action="store_true",
        help="stages start from a fresh, empty numba cache (the first run in a fresh environment)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="kernel timings: best of (default 3)")
    parser.add_argument(
        "--recon-events", type=int, default=50_000, help="events of the digi+recon kernel sample"
    )
    args = parser.parse_args(argv)

    config, used, notes = simulation_options(args.profile, args.charged_scale)
    if args.home is None:
        home = Path(tempfile.mkdtemp(prefix="bench-chain-"))
    else:
        home = args.home.resolve()
        if home.exists() and any(home.iterdir()):
            parser.error(f"--home {home}: not empty (the bench needs a fresh data home)")
        home.mkdir(parents=True, exist_ok=True)
    workdir = home / ".bench"
    workdir.mkdir()
    log = workdir / "stages.log"
    cold_cache = workdir / "numba-cache" if args.cold_jit else None
    if cold_cache is not None:
        cold_cache.mkdir()
    db_url = f"sqlite:///{home / 'fermi.db'}"
    base = {"home": str(home), "db_url": db_url}
    cores = os.cpu_count() or 1
    for line in notes:
        print(line)
    print(
        f"bench-chain: {args.hours:g} h, profile {used}, seed {args.seed}, {args.workers} L1 workers, "
        f"{cores} cores (load average {os.getloadavg()[0]:.1f}); data home {home}",
        flush=True,
    )
    try:
        db = run_child({**base, "kind": "db"}, workdir, log)
        print(f"database schema made (fermi-core db upgrade): {db['wall']:.1f} s, not counted in the stages")
        sim = run_child(
            {
                **base,
                "kind": "simulate",
                "hours": args.hours,
                "seed": args.seed,
                "config": config,
                "charged_scale": args.charged_scale,
                "out": str(home / "latsim"),
                "summary": str(workdir / "summary.json"),
            },
            workdir,
            log,
            jit_env(workdir, "simulate", None),
        )
        summary = json.loads((workdir / "summary.json").read_text(encoding="utf-8"))
        ids = [d["delivery_id"] for d in summary["deliveries"]]
        files = delivery_files(home, ids)
        in_bytes = sum(f.stat().st_size for f in files)
        n_events = int(summary["events"])
        print(
            f"simulated: {n_events:,} events read out ({n_events / (args.hours * 3600):,.0f} ev/s), "
            f"{len(ids)} deliveries, {_gb(in_bytes)} ({in_bytes / max(n_events, 1):.0f} B/event), "
            f"{len(summary['runs'])} runs; simulation took {sim['wall']:.1f} s, "
            f"peak RSS {_gb(sim['rss'])}",
            flush=True,
        )
        results: dict[str, dict] = {}
        specs = {
            "ingest": {"deliveries": [str(home / "latsim" / "deliveries" / d) for d in ids]},
            "merge": {"delivery_ids": ids},
            "l1": {"workers": args.workers},
        }
        for stage in STAGES:
            spec = {**base, "kind": stage, **specs[stage], "profile": stage in args.profile_stage}
            results[stage] = run_child(spec, workdir, log, jit_env(workdir, stage, cold_cache))
            r = results[stage]
            r["jit"] = jit_summary(workdir / "jit" / stage, r.get("pid"))
            print(
                f"  {stage}: {r['wall']:.2f} s (+ {r['startup']:.1f} s start-up and imports; "
                f"{r['jit']['stage_s']:.1f} s compiling)",
                flush=True,
            )
    except RuntimeError as exc:
        print(f"bench-chain: error: {exc}")
        print("".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-30:]))
        return 1

    from fermi_core.site import Site

    site = Site(home, db_url)
    print("measuring the kernel floors on the same data ...", flush=True)
    t_dec, t_sha = ingest_floor(files, args.repeat)
    runs = merged_inputs(site)
    t_merge, merged_events, merged_bytes, t_merge_out = merge_floor(
        runs, args.repeat, workdir / "merge-floor.bin"
    )
    t_payload = event_payload_floor(files, args.repeat)
    rate, sample = recon_rate(runs, args.recon_events, max(1, args.repeat - 1))
    eff = max(1, min(args.workers, cores))
    t_recon = merged_events / rate / eff
    products = product_files(site)
    t_fits, fits_rows, fits_bytes = fits_floor(products, workdir, max(1, args.repeat - 1))
    outbox = site.outbox
    n_exports = sum(1 for _ in outbox.iterdir()) if outbox.is_dir() else 0

    rows = [
        {"stage": "ingest", **results["ingest"], "events": n_events, "bytes": in_bytes,
         "kernel": "CCSDS decode_file of the delivery files", "floor": t_dec},
        {"stage": "  (ingest, I/O floor)", "wall": results["ingest"]["wall"], "events": n_events,
         "bytes": in_bytes, "kernel": "decode + SHA-256 + one copy per byte", "floor": t_dec + t_sha},
        {"stage": "merge", **results["merge"], "events": merged_events, "bytes": merged_bytes,
         "kernel": "merge_order + gather_records per run", "floor": t_merge},
        {"stage": "  (merge, I/O floor)", "wall": results["merge"]["wall"], "events": merged_events,
         "bytes": merged_bytes, "kernel": "event payloads read + merge + SHA-256 + write",
         "floor": t_payload + t_merge + t_merge_out},
        {"stage": "l1 (pipeline+outbox)", **results["l1"], "events": merged_events, "bytes": merged_bytes,
         "kernel": f"digi+recon {rate:,.0f} ev/s/core x{eff} + FITS/{eff}", "floor": t_recon + t_fits / eff},
        {"stage": "  (FITS write)", "wall": None, "events": fits_rows, "bytes": fits_bytes,
         "kernel": f"astropy write of {len(products)} products' columns", "floor": t_fits},
    ]  # fmt: skip
    chain = sum(results[s]["wall"] for s in STAGES)
    chain_floor = t_dec + t_merge + t_recon + t_fits / eff
    rows.append(
        {"stage": "whole chain", "wall": chain, "events": n_events, "bytes": in_bytes,
         "startup": sum(results[s]["startup"] for s in STAGES), "rss": max(results[s]["rss"] for s in STAGES),
         "child_rss": max(results[s]["child_rss"] for s in STAGES),
         "jit": {"stage_s": sum(results[s]["jit"]["stage_s"] for s in STAGES)},
         "kernel": "sum of the floors", "floor": chain_floor}
    )  # fmt: skip
    print()
    for line in format_table(rows):
        print(line)
    real = args.hours * 3600.0
    process_total = sum(results[s]["process_wall"] for s in STAGES)
    print(
        f"\nwhole chain: {chain:.1f} s for {args.hours:g} h of data = {real / chain:,.0f}x real time "
        f"({process_total:.1f} s with interpreter start-up and imports of the 3 processes); "
        f"{len(products)} products catalogued, {n_exports} exports in the outbox"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    print(
        f"kernel samples: digi+recon on {sample:,} events of one merged file; "
        f"merge over {len(runs)} runs ({merged_events:,} events, {_gb(merged_bytes)}); "
        f"FITS floor over {fits_rows:,} rows"
    )
    jit = {"simulate": jit_summary(workdir / "jit" / "simulate", sim.get("pid"))}
    jit.update({s: results[s]["jit"] for s in STAGES})
    print(f"numba compiling (FERMI_JIT_LOG, logs in {workdir / 'jit'}; the driver's + the slowest worker's):")
    for line in jit_lines(jit):
        print(line)
    first_run = sum(results[s]["jit"]["stage_s"] for s in STAGES)
    if args.cold_jit:
        print(f"first run in a fresh environment: {first_run:.1f} s compiling (target <= 15 s)")
    for stage in STAGES:
        if results[stage].get("profile"):
            print(f"\n--- cProfile of stage {stage} (top 25, cumulative) ---")
            print(results[stage]["profile"])
    if args.json:
        doc = {
            "hours": args.hours, "profile": used, "seed": args.seed, "workers": args.workers, "cores": cores,
            "events": n_events, "bytes": in_bytes, "deliveries": len(ids), "runs": len(runs),
            "simulate_s": sim["wall"], "chain_s": chain, "real_time_multiple": real / chain,
            "rows": [{k: v for k, v in r.items() if k not in ("profile", "jit")} for r in rows],
            "cold_jit": args.cold_jit, "jit_s": first_run,
            "jit": {k: {**v, "compiles": v["compiles"][:25]} for k, v in jit.items()},
        }  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    if args.home is None and not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"data home kept: {home} (stage log {log})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
