"""Data quality through the commands, on SQLite and PostgreSQL (issue 14, "Must show").

A clean simulated span gives every run the verdict ``good`` and no data-quality alarm. Each of the
three data-quality faults of the simulator (``fermi_latsim.dq_faults``) is caught by the check
meant for it, with its alarm, the verdict on the run's data-quality page and the run named:

* ``dead-tracker-layers``: the monitoring's ``dead-or-hot-layers`` check on ``tkr_hits`` names the
  dead tower; verdict ``bad``; alarm ``run-quality`` (error);
* ``rate-excursion``: the automatic bad-time check records an interval (source ``auto``) over the
  burst, and the monitoring's ``rate-jump`` check on ``event_rate`` gives ``warning``; alarm
  ``run-quality`` once the warning is unsigned longer than its sign-off window;
* ``bad-config-key``: the halfpipe holds the run in state ``mismatch`` (L1 does not take it);
  alarm ``config-key-mismatch`` naming the key in the data and the planned one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fermi_core.site import run_folder
from fermi_halfpipe.cli import main as halfpipe
from fermi_halfpipe.keys import format_key
from fermi_ingest.cli import main as ingest
from fermi_isoc.alarms.config import DEFAULT_ALARMS
from fermi_isoc.cli import main as isoc
from fermi_isoc.web.app import Settings, create_app
from fermi_l1.cli import main as l1
from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate

from .conftest import _capture

HOURS = 0.1
#: the automatic bad-time check judges a bin against the quiet rate around it: the 5-minute burst
#: needs a run longer than the 6 minutes of the short span
HOURS_OF = {"rate-excursion": 0.2}
DQ_FAULTS = ("dead-tracker-layers", "rate-excursion", "bad-config-key")


def _chain(home: Path, faults: tuple[str, ...]) -> dict:
    """Simulate, ingest and merge every delivery, one L1 pass; the simulation summary."""
    missing = sorted(set(faults) - set(FAULTS))
    assert not missing, f"simulator fault(s) {', '.join(missing)} missing in fermi_latsim.simulate.FAULTS"
    hours = max([HOURS_OF.get(f, HOURS) for f in faults], default=HOURS)
    summary = simulate(home / "latsim", SimulationConfig(hours=hours, seed=5, faults=faults))
    for d in summary["deliveries"]:
        assert _capture(ingest, ["ingest", str(home / "latsim" / "deliveries" / d["delivery_id"])])[0] == 0
        rc, out = _capture(halfpipe, ["merge", d["delivery_id"]])
        assert rc == 0, out
    rc, out = _capture(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
    assert rc == 0, out
    return summary


def _dq(*argv: str) -> dict | list:
    rc, out = _capture(isoc, ["dq", *argv, "--json"])
    assert rc == 0, out
    return json.loads(out)


def _alarms(home: Path, sign_off_window_h: float | None = None) -> dict[tuple[str, str], dict]:
    """``{(alarm, item): result}`` of ``fermi-isoc alarms --all --json`` for the two DQ alarms."""
    argv = ["alarms", "--all", "--json"]
    if sign_off_window_h is not None:  # the default alarms with another sign-off window
        text = DEFAULT_ALARMS.read_text()
        assert 'window_hours = 24\nmissing = "ok"\ndescription = "A run\'s data-quality' in text
        path = home / "alarms.toml"
        path.write_text(
            text.replace(
                'window_hours = 24\nmissing = "ok"\ndescription = "A run\'s data-quality',
                f'window_hours = {sign_off_window_h}\nmissing = "ok"\ndescription = "A run\'s data-quality',
            )
        )
        argv[1:1] = ["--config", str(path)]
    _rc, out = _capture(isoc, argv)
    return {
        (r["alarm"], r["key"]): r
        for r in json.loads(out)
        if r["alarm"] in ("run-quality", "config-key-mismatch")
    }


def _page(db_url: str, run: int) -> str:
    app = create_app(Settings(db_url=db_url))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        r = c.get(f"/lat-runs/{run}/dq")
        assert r.status_code == 200, r.text
        return r.text


def _firing(alarms: dict, name: str) -> dict[str, dict]:
    return {
        key: r
        for (alarm, key), r in alarms.items()
        if alarm == name and r["severity"] in ("warning", "error")
    }


def test_a_clean_span_gives_every_run_good(db_url):
    home = Path(os.environ["FERMI_HOME"])
    summary = _chain(home, ())
    runs = sorted(r["run"] for r in summary["runs"])
    verdicts = {v["run"]: v for v in _dq("list")}
    assert sorted(verdicts) == runs
    assert {run: v["verdict"] for run, v in verdicts.items()} == dict.fromkeys(runs, "good"), [
        (run, v["checks"]) for run, v in verdicts.items() if v["verdict"] != "good"
    ]
    alarms = _alarms(home, sign_off_window_h=1e-6)
    assert _firing(alarms, "run-quality") == {} and _firing(alarms, "config-key-mismatch") == {}
    assert _dq("intervals") == []
    shown = _dq("show", str(runs[0]))
    assert shown["state"] == "good" and shown["verdict"]["checks"] == [] and len(shown["plots"]) >= 1
    assert 'data-verdict="good"' in _page(db_url, runs[0])


@pytest.mark.parametrize("fault", DQ_FAULTS)
def test_each_fault_is_caught_by_its_check_with_alarm_page_and_run(db_url, fault):
    home = Path(os.environ["FERMI_HOME"])
    summary = _chain(home, (fault,))
    record = summary["faults"][fault]
    runs = sorted(r["run"] for r in summary["runs"])

    if fault == "bad-config-key":
        run = record["run"]
        planned, seen = record["planned"]["moot_key"], record["config_keys"]["moot_key"]
        shown = _dq("show", str(run))
        assert shown["halfpipe_state"] == "mismatch" and shown["verdict"] is None  # L1 did not take it
        assert shown["config_keys"]["moot_key"] == seen
        (key,) = _firing(_alarms(home), "config-key-mismatch")
        assert key == run_folder(run)
        message = _alarms(home)[("config-key-mismatch", key)]["message"]
        assert format_key(seen) in message and format_key(planned) in message, message
        page = _page(db_url, run)
        assert (
            "held: configuration key mismatch" in page
            and format_key(seen) in page
            and format_key(planned) in page
        )
        assert {v["run"] for v in _dq("list")} == set(runs) - {run}
        return

    if fault == "dead-tracker-layers":  # every run with enough events: the dead tower seen by the layer check
        layer_check = ("tkr_hits", "dead-or-hot-layers")
        listed = {v["run"]: v for v in _dq("list")}
        assert sorted(listed) == runs
        judged = {
            run: v for run, v in listed.items()
            if not any((c["quantity"], c["check"]) == layer_check for c in v["skipped"])
        }  # fmt: skip
        assert judged, f"the layer check was skipped on every run: {listed}"
        for v in judged.values():
            assert v["verdict"] == "bad", v
            layers = [c for c in v["checks"] if (c["quantity"], c["check"]) == layer_check]
            assert layers and all(c["severity"] == "error" for c in layers), v["checks"]
            assert all(f"tower {record['tower']}" in c["element"] for c in layers), layers
        firing = _firing(_alarms(home), "run-quality")
        assert set(firing) == {run_folder(r) for r in judged}
        assert all(r["severity"] == "error" and "dead-or-hot-layers" in r["message"] for r in firing.values())
        run = max(judged)
        page = _page(db_url, run)
        assert 'data-verdict="bad"' in page and 'data-quantity="tkr_hits" data-severity="error"' in page
        assert f"tower {record['tower']}" in page and 'class="dq-plot"' in page
        return

    # rate-excursion: the rate jump seen by the monitoring, the burst flagged automatically
    start, stop = record["start"], record["stop"]
    run = next(r["run"] for r in summary["runs"] if r["start"] <= start and stop <= r["stop"])
    shown = _dq("show", str(run))
    verdict = shown["verdict"]["verdict"]
    assert verdict in ("warning", "bad"), shown["verdict"]
    assert any(c["quantity"] == "event_rate" for c in shown["verdict"]["checks"]), shown["verdict"]["checks"]
    assert {v["run"] for v in _dq("list") if v["verdict"] != "good"} == {run}
    firing = _firing(_alarms(home, sign_off_window_h=1e-6), "run-quality")
    assert set(firing) == {run_folder(run)}
    page = _page(db_url, run)
    assert f'data-verdict="{verdict}"' in page and 'data-quantity="event_rate"' in page
    auto = [i for i in _dq("intervals") if i["source"] == "auto"]
    assert auto, "the automatic bad-time check recorded no interval over the rate excursion"
    assert all(i["start_met"] < stop and i["stop_met"] > start for i in auto), (auto, start, stop)
    assert [i["id"] for i in _dq("show", str(run))["intervals"]] == [i["id"] for i in auto]
    assert 'class="dq-interval-row"' in _page(db_url, run)
