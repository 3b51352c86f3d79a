"""The numba warm-up of the L1 workers (fermi_l1.warm): each kernel compiled once, by one of them.

The compiling tests run in subprocesses on an empty numba cache with the compile log
(``FERMI_JIT_LOG``: one line per compiled kernel and process). One cold cache is shared by the
module: two processes warm it up at the same time, then run the real recon task and FT2 step.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

from fermi_l1 import warm

#: a worker: wait for the others, warm up (twice), then the real recon task of a crumb and the FT2 step
_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    import numpy as np

    from fermi_l1 import warm

    work, barrier, n_procs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    log = Path(os.environ["FERMI_JIT_LOG"]) / f"jit-{os.getpid()}.tsv"

    def compiled():
        return log.read_text(encoding="utf-8").splitlines() if log.is_file() else []

    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < n_procs and time.monotonic() < deadline:
        time.sleep(0.005)
    first = warm.ensure_warm()
    n_warm = len(compiled())
    second = warm.ensure_warm()
    n_second = len(compiled())
    if len(sys.argv) > 4:  # only the warm-up
        print(json.dumps({"pid": os.getpid(), "first": first, "n_warm": n_warm}))
        raise SystemExit(0)

    from fermi_halfpipe.outputs import COLUMN_TYPES, merged_batch, read_merged, write_merged
    from fermi_halfpipe.spacecraft import SCALARS, write_samples
    from fermi_l1 import synthetic
    from fermi_l1.digi import decode_events
    from fermi_l1.digi._reference import encode_record
    from fermi_l1.ft2.make import make_ft2_rows, write_ft2_products
    from fermi_l1.merit import read_merit
    from fermi_l1.pipeline.runinput import recon_crumb
    from fermi_l1.recon.toymc import simulate_photons

    n, t0, run = 10, 300_000_000.0, 300_000_000
    rng = np.random.default_rng(7)
    digi, _ = simulate_photons(np.geomspace(50.0, 50000.0, n), np.linspace(0.0, 70.0, n),
                               np.linspace(0.0, 330.0, n), rng, charged=np.arange(n) % 3 == 0)
    records = []
    for i in range(n):
        t = range(digi.tkr_ptr[i], digi.tkr_ptr[i + 1])
        c = range(digi.cal_ptr[i], digi.cal_ptr[i + 1])
        a = range(digi.acd_ptr[i], digi.acd_ptr[i + 1])
        towers = sorted({int(digi.tkr_tower[j]) for j in t} | {int(digi.cal_tower[j]) for j in c})
        tems = [(tw,
                 [(int(digi.tkr_plane[j]), int(digi.tkr_view[j]), int(digi.tkr_strip[j]))
                  for j in t if digi.tkr_tower[j] == tw],
                 [(int(digi.cal_layer[j]), int(digi.cal_column[j]), int(digi.cal_range_pos[j]),
                   int(digi.cal_range_neg[j]), int(digi.cal_adc_pos[j]), int(digi.cal_adc_neg[j]))
                  for j in c if digi.cal_tower[j] == tw])
                for tw in towers]
        acd = [(int(digi.acd_id[j]), int(digi.acd_flags[j]), int(digi.acd_ranges[j]), int(digi.acd_pha_a[j]),
                int(digi.acd_pha_b[j])) for j in a]
        header = {name: int(v[i]) for name, v in digi.header.items()}
        header.update(gem_sequence=1000 + i, tone_seconds=int(t0) + i, prev_tone_seconds=int(t0) + i - 1)
        records.append(encode_record(header, tems, acd))
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    columns = {name: np.zeros(n) for name in COLUMN_TYPES}
    columns["gem_seq"] = 1000 + np.arange(n)
    columns["event_time"] = t0 + 1.0 + np.arange(n) * 3.0
    out = work / str(os.getpid())
    merged = out / "merged.arrow"
    sha = write_merged(merged, merged_batch(columns, np.frombuffer(b"".join(records), np.uint8), offsets, run,
                                            "d1"))
    samples = synthetic.spacecraft_samples(t0 - 100.0, 200.0)
    table = {name: np.asarray(samples.get(name, np.zeros(samples["met"].size))) for name in SCALARS}
    table.update({k: samples[k] for k in ("quaternion", "position", "velocity")})
    sc = out / "sc.arrow"
    sc_sha = write_samples(sc, table, "d1")
    events = read_merged(merged)
    status = decode_events(events.records_buffer, events.offsets, events.lengths, errors="flag").status
    crumb = out / "crumb.parquet"
    recon_crumb(str(merged), sha, 1, n, run, [{"path": str(sc), "sha256": sc_sha}], str(crumb))
    merit = read_merit(crumb)
    order = np.argsort(merit["TIME"], kind="stable")
    rows = make_ft2_rows(samples, merit["TIME"][order], merit["LIVETIME"][order], t0, t0 + 40.0)
    write_ft2_products(out, run, rows, date="2024-01-01T00:00:00")
    print(json.dumps({"pid": os.getpid(), "first": first, "second": second, "n_warm": n_warm,
                      "n_second": n_second, "n_end": len(compiled()), "bad": int(np.count_nonzero(status)),
                      "has_track": int(np.count_nonzero(merit["HAS_TRACK"]))}))
    """
)


def _env(cache: Path, jit_log: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "FERMI_JIT_LOG": str(jit_log)}
    env.pop("FERMI_NUMBA_CACHE", None)
    env.update(extra)
    return env


def _workers(tmp: Path, cache: Path, jit_log: Path, n: int, *extra: str) -> list[dict]:
    """Run ``n`` worker scripts at once (they start warming up together); return their reports."""
    script = tmp / "worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    barrier = tmp / f"barrier-{jit_log.name}"
    barrier.mkdir()
    env = _env(cache, jit_log)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp), str(barrier), str(n), *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def _compiles(jit_log: Path) -> list[tuple[int, str, str]]:
    lines = [ln.split("\t") for f in sorted(jit_log.glob("jit-*.tsv")) for ln in f.read_text().splitlines()]
    return [(int(p[0]), p[1], p[2]) for p in lines]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two workers warming up one empty cache at the same time, then each running the real steps."""
    tmp = tmp_path_factory.mktemp("warm")
    cache, jit_log = tmp / "numba-cache", tmp / "jit"
    cache.mkdir()
    return tmp, cache, jit_log, _workers(tmp, cache, jit_log, 2)


def test_real_steps_compile_nothing_after_the_warm_up(pair):
    _, _, _, reports = pair
    for r in reports:
        assert r["bad"] == 0 and r["has_track"] > 0  # real events, decoded and reconstructed
        assert r["n_end"] == r["n_second"], (
            "the recon task or the FT2 step compiled a kernel after ensure_warm"
        )


def test_two_workers_compile_each_kernel_once_between_them(pair):
    _, _, jit_log, reports = pair
    compiles = _compiles(jit_log)
    counts = Counter((name, sig) for _, name, sig in compiles)
    assert counts and max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    by_pid = Counter(pid for pid, _, _ in compiles)
    assert set(by_pid) == {r["pid"] for r in reports}  # both compiled: the work was shared
    names = {name.rsplit(".", 1)[-1] for _, name, _ in compiles}
    assert {"scan_records", "fill_records", "find_tracks", "classify", "to_sky", "_merge_groups"} <= names


def test_second_call_is_a_no_op(pair):
    _, _, _, reports = pair
    for r in reports:
        assert r["first"] is True and r["second"] is False
        assert r["n_second"] == r["n_warm"]


def test_warm_cache_compiles_nothing(pair):
    tmp, cache, _, _ = pair
    jit_log = tmp / "jit-again"
    (report,) = _workers(tmp, cache, jit_log, 1, "warm-up only")
    assert report["first"] is True and report["n_warm"] == 0
    assert _compiles(jit_log) == []


def test_disabled_cache_does_nothing(tmp_path):
    cache = tmp_path / "cache"
    code = "from fermi_l1.warm import ensure_warm; print(ensure_warm())"
    env = _env(cache, tmp_path / "jit", FERMI_NUMBA_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert not cache.exists() and not (tmp_path / "jit").exists()


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Parts that only record their calls, on a cache folder of the test's own."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("FERMI_NUMBA_CACHE", raising=False)
    monkeypatch.setattr(warm, "_done", False)
    calls: list[str] = []

    def part(name: str, fail: bool = False):
        def fn() -> None:
            calls.append(name)
            if fail:
                raise RuntimeError("no kernel today")

        return name, fn

    return tmp_path, calls, part


def test_a_busy_part_is_passed_then_waited_for(fake_parts, monkeypatch):
    folder, calls, part = fake_parts
    monkeypatch.setattr(warm, "PARTS", (part("a"), part("b"), part("c")))
    held = os.open(folder / "fermi-l1-warm-a.lock", os.O_RDWR | os.O_CREAT)  # "another worker" compiles a
    fcntl.flock(held, fcntl.LOCK_EX)
    thread = threading.Thread(target=warm.ensure_warm)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive() and calls == ["b", "c"]  # passed a, waits for it
    fcntl.flock(held, fcntl.LOCK_UN)
    os.close(held)
    thread.join(timeout=10)
    assert not thread.is_alive() and calls == ["b", "c", "a"]
    assert warm.ensure_warm() is False and calls == ["b", "c", "a"]


def test_a_failing_part_logs_one_warning_and_the_rest_runs(fake_parts, monkeypatch, caplog):
    _, calls, part = fake_parts
    monkeypatch.setattr(warm, "PARTS", (part("a", fail=True), part("b")))
    with caplog.at_level(logging.WARNING, logger="fermi_l1.warm"):
        assert warm.ensure_warm() is True
    assert calls == ["a", "b"]
    (rec,) = caplog.records
    assert "'a' failed" in rec.getMessage() and "no kernel today" in rec.getMessage()
