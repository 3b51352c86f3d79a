"""A clean simulated day gives every run "good" (issue 14, "Must show").

A whole day (24 h: about 15 orbits, their SAA passages and the runs between them) is simulated
with the light profile and the sky's rates scaled by :data:`RATE_SCALE` (``SkyModel`` fields, the
way ``ci/bench_chain.py --charged-scale`` scales the charged particles): the orbits, SAA
passages, run structure and deliveries of a day, at about 5,000 events a run, which the checks
need (``min_events`` 2000 in the shipped configuration). The deliveries go through
``fermi-ingest ingest``, ``fermi-halfpipe merge`` and ``fermi-l1 pipeline``. After the first
delivery's pass its longest run is made the reference run (``fermi-isoc dq reference``), so the
later runs are also compared with it, as a shifter does.

Every run has a verdict, and every verdict is ``good``: no failed checks, no excepted ones, and
no ``run-quality`` alarm even with a sign-off window of a microsecond. The checks did run (none
passes by being skipped):

* every run long enough to have ``min_events`` events skips nothing, apart from the reference
  checks of the runs processed before the reference was set (skipped with "no reference run set");
* a run too short to have ``min_events`` events skips its histogram checks with that reason;
* at least 12 of the day's ~16 runs have every check evaluated.

Cost: 108-115 s of CPU for the module (user + system, pytest start-up included; measured under load,
where it took 3-8.5 min of wall time): simulation 11 s, ingest and merge 14 s, and L1 with its
monitoring about 60 s, 16 runs of per-run costs. It runs serially (one L1 worker), so on an idle
machine its wall time is about its CPU time. At the light profile's full rates the same day would
cost about 300-400 s of CPU, extrapolated from a measured light-profile hour: 15 s of CPU, of which
the simulation takes 4.6 s and L1 9 s. SQLite only: both backends are covered by
tests/e2e/test_data_quality.py.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_isoc.cli import main as isoc
from fermi_l1.cli import main as l1
from fermi_l1.monitoring.config import load_config
from fermi_latsim.simulate import SimulationConfig, simulate
from fermi_latsim.sky import SkyModel

from .conftest import _capture
from .test_data_quality import _alarms, _firing

HOURS = 24.0
#: factor on every sky rate (point sources, diffuse, limb, charged particles): ~0.9 events/s
RATE_SCALE = 0.1
#: a run at least this long has well over ``min_events`` events at that rate
LONG_RUN_S = 3000.0


def _scaled_sky(scale: float) -> SkyModel:
    sky = SkyModel()
    rates = ("isotropic_flux_sr", "galactic_flux", "limb_flux", "cosmic_ray_rate_hz")
    return dataclasses.replace(
        sky,
        sources=tuple(dataclasses.replace(s, flux=s.flux * scale) for s in sky.sources),
        **{name: getattr(sky, name) * scale for name in rates},
    )


def _ok(fn, argv: list[str]) -> str:
    rc, out = _capture(fn, argv)
    assert rc == 0, out
    return out


def _dq(*argv: str) -> list | dict:
    return json.loads(_ok(isoc, ["dq", *argv, "--json"]))


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The simulated day through the chain: summary, verdicts, alarms, reference run, runs per pass."""
    home = tmp_path_factory.mktemp("dq-day")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FERMI_HOME", str(home))
        mp.delenv("FERMI_DB_URL", raising=False)
        summary = simulate(
            home / "latsim", SimulationConfig(hours=HOURS, seed=5, model=_scaled_sky(RATE_SCALE))
        )
        ids = [d["delivery_id"] for d in summary["deliveries"]]
        passes: list[set[int]] = []
        reference = None
        for k, did in enumerate(ids):
            _ok(ingest, ["ingest", str(home / "latsim" / "deliveries" / did)])
            _ok(halfpipe, ["merge", did])
            if k in (0, len(ids) - 1):  # a pass after the first delivery, then one at the end
                _ok(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
                done = {v["run"] for v in _dq("list")}
                passes.append(done - set().union(*passes))
                if reference is None and done:
                    by_length = {r["run"]: r["stop"] - r["start"] for r in summary["runs"]}
                    reference = max(done, key=by_length.__getitem__)
                    _ok(isoc, ["dq", "reference", str(reference), "--who", "dq-day-test"])
        yield {
            "summary": summary,
            "verdicts": {v["run"]: v for v in _dq("list")},
            "alarms": _alarms(home, sign_off_window_h=1e-6),
            "intervals": _dq("intervals"),
            "reference": reference,
            "passes": passes,
        }


def test_the_day_has_a_day_of_orbits_runs_and_deliveries(day):
    s = day["summary"]
    assert s["stop_met"] - s["start_met"] == pytest.approx(HOURS * 3600.0)
    assert len(s["runs"]) >= 14 and len(s["deliveries"]) >= 6  # ~15 orbits, 6-10 deliveries a day
    assert day["reference"] is not None and len(day["passes"]) == 2 and all(day["passes"])


def test_a_clean_simulated_day_gives_every_run_good(day):
    runs = sorted(r["run"] for r in day["summary"]["runs"])
    verdicts = day["verdicts"]
    assert sorted(verdicts) == runs, f"runs without a verdict: {sorted(set(runs) - set(verdicts))}"
    not_good = {
        run: [(c["quantity"], c["check"], c["severity"], c["detail"]) for c in v["checks"]]
        for run, v in verdicts.items()
        if v["verdict"] != "good" or v["checks"] or v["excepted"]
    }
    assert not_good == {}, f"runs of a clean day not good (run: failing checks): {not_good}"
    assert _firing(day["alarms"], "run-quality") == {}
    assert _firing(day["alarms"], "config-key-mismatch") == {}
    assert day["intervals"] == []  # the automatic bad-time check found nothing to flag either


def test_the_checks_ran_on_every_run_with_events_enough(day):
    n_checks = len(load_config().checks)
    min_events = load_config().min_events
    first_pass = day["passes"][0]
    length = {r["run"]: r["stop"] - r["start"] for r in day["summary"]["runs"]}
    evaluated = {}
    for run, v in day["verdicts"].items():
        reasons = [s["reason"] for s in v["skipped"]]
        too_few = [r for r in reasons if f"fewer than min_events = {min_events}" in r]
        no_ref = [r for r in reasons if r == "no reference run set"]
        assert len(too_few) + len(no_ref) == len(reasons), (run, reasons)  # no other reason to skip
        assert not no_ref or run in first_pass, (run, "reference checks skipped after the reference was set")
        if length[run] >= LONG_RUN_S:
            assert not too_few, (run, length[run], too_few)
        if too_few:  # a short run: all its histogram checks skipped, with that reason
            assert len(too_few) == n_checks - 1, (run, reasons)
        evaluated[run] = n_checks - len(reasons)
    full = [run for run, n in evaluated.items() if n == n_checks]
    assert len(full) >= 12, evaluated  # most of the ~16 runs: every check evaluated
