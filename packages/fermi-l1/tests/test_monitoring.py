"""Data-quality monitoring: histograms, checks, verdicts, reference, known exceptions, plots, reader.

One simulated chain (latsim -> ingest -> halfpipe -> L1 pipeline) is made per module; tests that
damage something work on a copy of its data home.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fermi_core.site import Site
from fermi_halfpipe.cli import main as halfpipe
from fermi_halfpipe.outputs import read_merged
from fermi_ingest.cli import main as ingest
from fermi_l1 import instrument as inst
from fermi_l1.catalog.api import query
from fermi_l1.cli import main as l1
from fermi_l1.db import session
from fermi_l1.digi import decode_events
from fermi_l1.monitoring import _kernels, _reference
from fermi_l1.monitoring.checks import chi2_ndf, evaluate
from fermi_l1.monitoring.config import CheckConfigError, load_config, parse_config
from fermi_l1.monitoring.fill import write_crumb_histograms
from fermi_l1.monitoring.histograms import read_histograms
from fermi_l1.monitoring.published import (
    MonitoringError,
    histograms,
    plot_paths,
    run_verdicts,
    set_reference,
    sign_off,
    verdict_counts,
)
from fermi_l1.monitoring.step import monitor_run_version
from fermi_latsim.simulate import SimulationConfig, simulate

DEAD_TOWER, DEAD_PLANES = 5, (6, 7, 8)


def _quiet(fn, argv):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(argv)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A clean 0.1 h simulated chain through the L1 pipeline (SQLite in the home)."""
    home = tmp_path_factory.mktemp("dq") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FERMI_HOME", str(home))
        mp.delenv("FERMI_DB_URL", raising=False)
        summary = simulate(home / "latsim", SimulationConfig(hours=0.1, seed=5))
        ids = [d["delivery_id"] for d in summary["deliveries"]]
        for did in ids:
            assert _quiet(ingest, ["ingest", str(home / "latsim" / "deliveries" / did)]) == 0
        for did in ids:
            assert _quiet(halfpipe, ["merge", did]) == 0
        assert _quiet(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"]) == 0
    return Site(home)


def _main_run(site: Site) -> int:
    with session(site.db_url) as s:
        return max(run_verdicts(s), key=lambda v: len(plot_paths(s, site, v.run)) and v.run).run


def _copy(site: Site, dest: Path) -> Site:
    shutil.copytree(site.home, dest / "home", symlinks=True)
    return Site(dest / "home")


def _run_input(site: Site, run: int) -> tuple[dict, list[Path]]:
    folder = site.l1_input_dir(run)
    return json.loads((folder / "run.json").read_text()), sorted((folder / "merit").glob("*.parquet"))


def _damaged_crumbs(site: Site, run: int, version: int) -> None:
    """Decode the run's merged files again, drop the strips of DEAD_PLANES of DEAD_TOWER, write crumb histograms."""
    info, _ = _run_input(site, run)
    work = site.l1_work_dir(run, version)
    work.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(info["provenance"]["merged_files"]):
        ev = read_merged(site.resolve(f["relpath"]), sha256=f["sha256"])
        digi = decode_events(ev.records_buffer, ev.offsets, ev.lengths, errors="flag")
        keep = ~((digi.tkr_tower == DEAD_TOWER) & np.isin(digi.tkr_plane, DEAD_PLANES))
        assert (~keep).sum() > 100  # the layers had hits to lose
        n_hits = np.bincount(digi.tkr_event[keep], minlength=digi.n_events)
        damaged = dataclasses.replace(
            digi, tkr_ptr=np.concatenate([[0], np.cumsum(n_hits)]).astype(np.int64),
            tkr_tower=digi.tkr_tower[keep], tkr_plane=digi.tkr_plane[keep], tkr_view=digi.tkr_view[keep],
            tkr_strip=digi.tkr_strip[keep],
        )  # fmt: skip
        write_crumb_histograms(work / f"c{i:04d}-k000.parquet", damaged)


def _monitor(site: Site, run: int, version: int, config=None):
    info, chunks = _run_input(site, run)
    with session(site.db_url) as s:
        return monitor_run_version(s, site, run, version, info["start"], info["stop"], chunks, config=config)


# -- kernels -----------------------------------------------------------------------------------


def test_kernels_match_their_numpy_twin():
    rng = np.random.default_rng(3)
    n = 20_000
    tower, plane, view = rng.integers(0, 16, n), rng.integers(0, 18, n), rng.integers(0, 2, n)
    a, b = np.zeros((16, 36), np.int64), np.zeros((16, 36), np.int64)
    _kernels.fill_tracker(tower.astype(np.int16), plane.astype(np.int16), view.astype(np.int16), a)
    _reference.fill_tracker(tower.astype(np.int16), plane.astype(np.int16), view.astype(np.int16), b)
    assert np.array_equal(a, b) and a.sum() == n
    layer, col, e = (
        rng.integers(0, 8, n).astype(np.int16),
        rng.integers(0, 12, n).astype(np.int16),
        rng.random(n),
    )
    h1, e1, h2, e2 = (np.zeros((16, 8, 12), d) for d in (np.int64, np.float64, np.int64, np.float64))
    _kernels.fill_calorimeter(tower.astype(np.int16), layer, col, e, h1, e1)
    _reference.fill_calorimeter(tower.astype(np.int16), layer, col, e, h2, e2)
    assert np.array_equal(h1, h2) and np.allclose(e1, e2)
    ids = rng.choice(np.concatenate([inst.ACD_TILE_IDS, inst.ACD_RIBBON_IDS, [7, 45]]), n).astype(np.int16)
    index = np.full(512, -1, np.int64)
    index[inst.ACD_TILE_IDS] = np.arange(inst.ACD_TILE_IDS.size)
    c1, c2 = np.zeros(89, np.int64), np.zeros(89, np.int64)
    _kernels.fill_acd(ids, index, c1)
    _reference.fill_acd(ids, index, c2)
    assert np.array_equal(c1, c2) and c1.sum() == np.isin(ids, inst.ACD_TILE_IDS).sum()
    vec, status = rng.integers(0, 2**16, n).astype(np.uint16), (rng.random(n) < 0.1).astype(np.int32)
    t1, t2 = np.zeros(16, np.int64), np.zeros(16, np.int64)
    _kernels.fill_tower_bits(vec, status, t1)
    _reference.fill_tower_bits(vec, status, t2)
    assert np.array_equal(t1, t2) and t1[3] == np.count_nonzero((vec[status == 0] >> 3) & 1)


def test_chi2_ndf_of_two_samples_of_one_shape_is_near_one():
    rng = np.random.default_rng(1)
    p = np.exp(-np.linspace(0, 3, 40))
    a, b = rng.poisson(5e4 * p / p.sum()), rng.poisson(2e4 * p / p.sum())
    assert 0.5 < chi2_ndf(a, b)[0] < 1.8
    assert chi2_ndf(a, rng.poisson(2e4 * p[::-1] / p.sum()))[0] > 100


def test_the_systematic_tolerance_ignores_a_few_per_cent_but_not_a_shifted_shape():
    rng = np.random.default_rng(2)
    p = np.exp(-np.linspace(0, 3, 40))
    wiggle = 1.0 + 0.04 * np.sin(np.linspace(0, 6, 40))  # another orbit phase: a few per cent
    a, b = rng.poisson(1e6 * p / p.sum()), rng.poisson(1e6 * p * wiggle / (p * wiggle).sum())
    assert chi2_ndf(a, b)[0] > 5  # Poisson errors alone: 1e6 events resolve the wiggle
    assert chi2_ndf(a, b, 0.1)[0] < 1.5
    steep = 10 ** (-0.17 * np.arange(40))  # counts per 0.1 dex of a spectrum of photon index 2.7
    c = rng.poisson(1e6 * steep / steep.sum())
    assert chi2_ndf(c, np.roll(c, 1), 0.1)[0] > 5  # the energy scale off by 0.1 dex: still fails
    with pytest.raises(CheckConfigError, match=r"systematic must be a fraction"):
        parse_config('[[checks]]\nquantity = "theta"\nalgorithm = "reference"\nwarning = 1\nerror = 2\n'
                     "systematic = 1.5\n")  # fmt: skip


def test_a_spike_must_stand_out_of_the_error_of_its_neighbours_median_too():
    from fermi_l1.monitoring.histograms import Histogram

    cfg = parse_config('[[checks]]\nquantity = "event_rate"\nalgorithm = "spikes_holes"\n'
                       'along = "t"\nwindow = 3\nwarning = 0.5\nerror = 10.0\n[settings]\nmin_events = 0\n')  # fmt: skip
    counts = np.full(20, 33.0)
    counts[8:11] = [27, 57, 27]  # the clean day's bin: 57 against a median of 28 of six neighbours
    counts[7], counts[11:14] = 26, [29, 33, 31]
    rate = Histogram("event_rate", [np.arange(21) * 30.0], counts / 30.0, {"axes": ["t"], "kind": "profile",
                                                                          "unit": "Hz"})  # fmt: skip
    assert evaluate(1, {"event_rate": rate}, {"n_events": 700}, cfg).verdict == "good"
    counts[9] = 90  # a real jump: +220 %
    rate = Histogram("event_rate", rate.edges, counts / 30.0, rate.meta)
    ev = evaluate(1, {"event_rate": rate}, {"n_events": 700}, cfg)
    assert ev.verdict == "warning" and ev.failed[0]["element"] == "t 270..300", ev.failed


def test_a_steady_rise_at_the_end_of_a_run_is_expected_a_jump_is_not():
    """A run ending at the SAA entry: the rate climbs steadily in its last bins (flight-hour demo)."""
    from fermi_l1.monitoring.histograms import Histogram

    cfg = parse_config('[[checks]]\nquantity = "event_rate"\nalgorithm = "spikes_holes"\n'
                       'along = "t"\nwindow = 3\nwarning = 0.5\nerror = 10.0\n[settings]\nmin_events = 0\n')  # fmt: skip
    meta = {"axes": ["t"], "kind": "profile", "unit": "Hz"}
    edges = [np.arange(21) * 40.0]
    rise = np.array([431.0, 429.1, 435.2, 460.2, 490.4, 546.2, 637.1, 824.1])  # Hz, the demo's last bins
    rate = np.concatenate([np.full(12, 430.0), rise])
    assert evaluate(1, {"event_rate": Histogram("event_rate", edges, rate, meta)}, {}, cfg).verdict == "good"
    for where, value in ((-1, 860.0), (0, 150.0)):  # a jump in a flat run's last bin, a hole in its first
        flat = np.full(20, 430.0)
        flat[where] = value
        ev = evaluate(1, {"event_rate": Histogram("event_rate", edges, flat, meta)}, {}, cfg)
        assert ev.verdict == "warning", (where, ev.failed)
        assert ev.failed[0]["element"] == ("t 760..800" if where == -1 else "t 0..40"), ev.failed


def test_a_bad_configuration_is_one_line_naming_the_entry(tmp_path):
    with pytest.raises(
        CheckConfigError, match=r"cfg\.toml: checks\[0\] \(theta\): algorithm 'median' is not"
    ):
        parse_config(
            '[[checks]]\nquantity = "theta"\nalgorithm = "median"\nwarning = 1\nerror = 2\n', "cfg.toml"
        )
    with pytest.raises(CheckConfigError, match=r"warning must be a range"):
        parse_config('[[checks]]\nquantity = "theta"\nalgorithm = "mean"\nwarning = 1\nerror = [0, 9]\n')
    assert load_config().checks  # the shipped default parses


# -- the chain ---------------------------------------------------------------------------------


def test_a_clean_run_is_good_with_its_monitor_file_catalogued_and_plots(chain):
    site = chain
    run = _main_run(site)
    with session(site.db_url) as s:
        verdicts = run_verdicts(s)
        assert {v.verdict for v in verdicts} == {"good"}, [v.checks for v in verdicts]
        assert verdict_counts(s) == {"good": len(verdicts), "warning": 0, "bad": 0}
        mon = query(s, data_type="MONITOR", run=run)
        assert len(mon) == 1 and mon[0].version == 1
        fits = {d.data_type for d in query(s, run=run)} - {"MONITOR"}
        assert fits == {"FT1", "EXTENDEDFT1", "LS1", "FT2", "FT2SECONDS"}
        main = next(v for v in verdicts if v.run == run)
        assert main.skipped and all(x["reason"] == "no reference run set" for x in main.skipped)
        h = histograms(s, site, run)
        plots = plot_paths(s, site, run)
    path = site.resolve(mon[0].file_path)
    assert path.parent == site.products_dir(run) and path.name == f"gll_mon_r{run:010d}_v001.parquet"
    edges, counts, meta = h["tkr_hits"]
    assert counts.shape == (16, 36) and len(edges) == 2 and meta["axes"] == ["tower", "layer"]
    assert counts.sum() > 0 and h["summary"][2]["digi"] == "complete"
    assert h["theta"][1].sum() > 0.9 * h["summary"][2]["n_events"]
    assert [p.name for p in plots] == [
        "tracker.png",
        "calorimeter.png",
        "directions.png",
        "rates.png",
        "classes.png",
    ]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in plots)
    # the outbox carries the FSSC products only
    export = next(p for p in site.outbox.iterdir() if p.name == f"r{run:010d}_v001")
    assert not any(".parquet" in p.name for p in export.iterdir())


def test_a_rerun_of_the_pipeline_changes_nothing(chain, tmp_path):
    site = _copy(chain, tmp_path)
    before = {p: p.read_bytes() for p in sorted(site.products.rglob("*.parquet"))}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FERMI_HOME", str(site.home))
        mp.delenv("FERMI_DB_URL", raising=False)
        assert _quiet(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"]) == 0
    assert {p: p.read_bytes() for p in sorted(site.products.rglob("*.parquet"))} == before
    run = _main_run(site)
    result = _monitor(site, run, 1)  # re-evaluated from the catalogued file, which is not rewritten
    assert result.evaluation.verdict == "good" and before[result.path] == result.path.read_bytes()


def test_dead_tracker_layers_of_one_tower_make_the_run_bad_naming_the_tower(chain, tmp_path):
    site = _copy(chain, tmp_path)
    run = _main_run(site)
    _damaged_crumbs(site, run, 2)
    result = _monitor(site, run, 2)
    ev = result.evaluation
    assert ev.verdict == "bad"
    failed = {(f["quantity"], f["check"]): f for f in ev.failed}
    dead = failed[("tkr_hits", "dead-or-hot-layers")]
    assert dead["severity"] == "error" and dead["element"].startswith(f"tower {DEAD_TOWER}, layer ")
    assert dead["n_failed"] == 2 * len(DEAD_PLANES) and "hole" in dead["detail"], dead["detail"]
    assert {q for q, _ in failed} == {"tkr_hits"}  # nothing else fires
    with session(site.db_url) as s:
        v = run_verdicts(s, runs=[run])[0]
        assert (v.version, v.verdict) == (2, "bad") and v.checks[0]["quantity"] == "tkr_hits"
        assert run_verdicts(s, verdicts=["bad"]) == [v]
    assert all(p.is_file() for p in result.plots) and result.plots[0].parent == site.monitor_plot_dir(run, 2)


def test_the_reference_comparison_flags_a_run_unlike_the_reference(chain, tmp_path):
    site = _copy(chain, tmp_path)
    run = _main_run(site)
    with session(site.db_url) as s:
        assert set_reference(s, run, "dq shifter") == 1
    clean = _monitor(site, run, 1).evaluation  # the reference against itself
    assert clean.verdict == "good" and not clean.skipped
    _damaged_crumbs(site, run, 2)
    damaged = _monitor(site, run, 2).evaluation
    ref = [f for f in damaged.failed if f["check"] == "reference"]
    # the largest pull grows with the run's statistics: past the warning limit in this 6-minute run
    assert [f["quantity"] for f in ref] == ["tkr_hits"] and ref[0]["value"] > 8.0
    assert ref[0]["element"].startswith(f"tower {DEAD_TOWER}, layer ")
    with session(site.db_url) as s:
        assert run_verdicts(s, runs=[run])[0].reference_run == run
        with pytest.raises(MonitoringError, match="run 12345 has no monitoring file"):
            set_reference(s, 12345, "dq shifter")


def test_a_known_exception_suppresses_the_check_it_names(chain, tmp_path):
    site = _copy(chain, tmp_path)
    run = _main_run(site)
    _damaged_crumbs(site, run, 2)
    text = load_config().source and Path(load_config().source).read_text()
    excepted = parse_config(
        text
        + f'\n[[exceptions]]\nquantity = "tkr_hits"\ncheck = "dead-or-hot-layers"\nelement = "tower {DEAD_TOWER}"\n'
        'reason = "tower 5 planes 6-8 lost their bias (anomaly report 42)"\n'
    )
    ev = _monitor(site, run, 2, config=excepted).evaluation
    assert ev.verdict == "good" and ev.failed == []
    assert len(ev.excepted) == 2 * len(DEAD_PLANES) and all(
        "anomaly report 42" in x["reason"] for x in ev.excepted
    )
    other = parse_config(
        text + '\n[[exceptions]]\nquantity = "tkr_hits"\nelement = "tower 6"\nreason = "x"\n'
    )
    assert evaluate(run, *read_histograms(_monitor(site, run, 2).path), other).verdict == "bad"


def test_sign_off_is_kept_beside_the_checks_verdict(chain, tmp_path):
    site = _copy(chain, tmp_path)
    run = _main_run(site)
    with session(site.db_url) as s:
        with pytest.raises(MonitoringError, match="use good or bad"):
            sign_off(s, run, "fine", "me", "looked")
        with pytest.raises(MonitoringError, match="who signs and the reason"):
            sign_off(s, run, "good", "me", " ")
        first = sign_off(s, run, "bad", "alice", "solar flare")
        assert (first.signoff, first.signed_by, first.reason, first.verdict) == (
            "bad",
            "alice",
            "solar flare",
            "good",
        )
    with session(site.db_url) as s:
        again = sign_off(s, run, "good", "bob", "flare was outside the run")
        assert (again.signoff, again.signed_by) == ("good", "bob") and again.signed_at is not None
        assert run_verdicts(s, runs=[run])[0].signoff == "good"
