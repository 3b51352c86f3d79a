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
