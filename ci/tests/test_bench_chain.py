"""Tests of ci/bench_chain.py's pieces (the benchmark itself is run by ``make bench-chain``, not here)."""

from __future__ import annotations

import bench_chain


def test_flight_profile_is_used_when_the_simulator_has_it():
    from fermi_latsim.simulate import default_workers

    workers = default_workers()  # as `fermi-latsim simulate` runs by default
    config, used, notes = bench_chain.simulation_options("flight", None)
    assert used == "flight" and config == {"profile": "flight", "workers": workers} and notes == []
    config, used, notes = bench_chain.simulation_options("light", 2.0)
    assert used == "light" and config == {"profile": "light", "workers": workers}
    assert notes == ["charged-particle rate x2 (SkyModel.cosmic_ray_rate_hz)"]


def test_table_has_ratio_and_rates():
    rows = [
        {"stage": "ingest", "wall": 2.0, "startup": 1.5, "events": 1000, "bytes": 4e6, "rss": 3e8,
         "child_rss": 0, "kernel": "decode", "floor": 0.5},
        {"stage": "  (FITS write)", "wall": None, "events": 10, "bytes": 1e5, "kernel": "astropy", "floor": 0.1},
    ]  # fmt: skip
    head, rule, ingest, fits = bench_chain.format_table(rows)
    assert "stage/kernel" in head and set(rule) == {"-"}
    assert ingest.split()[:6] == ["ingest", "2.00", "1.5", "500", "2", "300"]
    assert ingest.endswith("4.0x")
    assert fits.rstrip().endswith("0.100")  # no stage wall: no ratio


def test_child_kinds_have_their_command_module():
    assert set(bench_chain.MODULES) == {"db", "simulate", *bench_chain.STAGES}


def test_jit_summary_adds_the_driver_to_its_slowest_worker(tmp_path):
    folder = tmp_path / "jit" / "l1"
    folder.mkdir(parents=True)
    rows = {
        10: [("fermi_l1.recon._kernels.find_tracks", 3.0), ("fermi_l1.digi._kernels.scan_records", 1.0)],
        11: [("fermi_l1.recon._kernels.classify", 2.5), ("fermi_l1.recon._kernels.refit_tracks", 2.0)],
        9: [("fermi_l1.ft1.make.to_sky", 0.5)],  # the driver
    }
    for pid, compiles in rows.items():
        text = "".join(f"{pid}\t{fn}\t(array(int64, 1d, C),)\t{s}\n" for fn, s in compiles)
        (folder / f"jit-{pid}.tsv").write_text(text + "a line cut short\n", encoding="utf-8")
    j = bench_chain.jit_summary(folder, driver_pid=9)
    assert (j["driver_s"], j["worker_max_s"], j["stage_s"], j["processes"]) == (0.5, 4.5, 5.0, 3)
    assert j["critical_pids"] == [9, 11] and len(j["compiles"]) == 5
    (line,) = bench_chain.jit_lines({"l1": j})
    assert line.startswith(
        "  l1: 5.0 s (3 processes compiled, driver 0.5 s, largest other 4.5 s, 5 compiles)"
    )
    assert "find_tracks" not in line and "classify 2.5" in line  # only the driver's and the slowest's
    empty = bench_chain.jit_summary(tmp_path / "none", driver_pid=None)
    assert empty["stage_s"] == 0.0 and bench_chain.jit_lines({"merge": empty}) == [
        "  merge: nothing compiled (every kernel from the cache)"
    ]
