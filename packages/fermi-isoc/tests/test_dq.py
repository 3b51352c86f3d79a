"""Data quality in the ISOC: ``fermi-isoc dq``, a run's data-quality page and the alarms
``run-quality`` and ``config-key-mismatch``, on a small world of verdicts, sign-offs, plots,
bad time intervals and a halfpipe run held for a configuration-key mismatch."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fermi_core.db import get_engine, session_scope
from fermi_core.site import Site, run_folder
from fermi_isoc.alarms import Context, Severity, evaluate, load_alarms
from fermi_isoc.cli import main
from fermi_isoc.web.app import Settings, create_app
from fermi_l1.catalog.api import logical_path
from fermi_l1.catalog.models import Dataset
from fermi_l1.monitoring.models import SignOff, Verdict

from ._pageworld import TOKEN
from .conftest import NOW

GOOD, BAD, OLD_WARNING, NEW_WARNING, SIGNED, MISMATCHED = (
    796000000, 796003600, 796007200, 796010800, 796014400, 796020000,
)  # fmt: skip
DEAD_LAYER = {
    "quantity": "tkr_hits", "check": "dead-or-hot-layers", "severity": "error", "element": "tower 3, layer 7",
    "value": 0.97, "limit": 0.6, "detail": "tower 3 layer 7: 12 hits where the other towers expect 410",
    "n_failed": 1,
}  # fmt: skip
RATE = {
    "quantity": "summary.trigger_rate_hz", "check": "value", "severity": "warning", "element": "",
    "value": 2710.0, "limit": [1500.0, 2500.0], "detail": "", "n_failed": 1,
}  # fmt: skip
REASON = (
    "configuration key mismatch: moot_key 0x00001F45 in the data, 0x00001F44 planned "
    "(mission-planning table planning.toml, change of 2026-11-01T00:00:00: new TKR thresholds)"
)


def _png(path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.stairs([3, 5, 0, 4], [0, 1, 2, 3, 4])
    ax.set_title(path.stem)
    fig.savefig(path, format="png")
    plt.close(fig)


def populate_dq(url: str) -> Site:
    """Verdicts (good, bad, old and new warnings, a signed-off bad), products, plots, a mismatch."""
    from fermi_halfpipe.models import MISMATCH, HalfpipeRun

    get_engine(url)
    site = Site.from_env(db_url=url)
    with session_scope(url) as s:
        for run, verdict, checks, age_h in (
            (GOOD, "good", [], 2),
            (BAD, "bad", [DEAD_LAYER], 1),
            (OLD_WARNING, "warning", [RATE], 30),
            (NEW_WARNING, "warning", [RATE], 1),
            (SIGNED, "bad", [DEAD_LAYER], 50),
        ):
            s.add(Verdict(run=run, version=1, verdict=verdict, n_checks=12, config_digest="0" * 64,
                          checks=json.dumps({"failed": checks, "excepted": [], "skipped": []}),
                          evaluated_at=NOW - timedelta(hours=age_h)))  # fmt: skip
            for data_type, name in (("FT1", "gll_ph"), ("MONITOR", "gll_mon")):
                s.add(Dataset(logical_path=logical_path(data_type, run), data_type=data_type, version=1,
                              file_path=f"products/{run_folder(run)}/{name}_{run_folder(run)}_v001.fit", run=run,
                              met_start=float(run), met_stop=run + 3000.0, size=1, checksum="0" * 64,
                              creator="test", provenance="{}"))  # fmt: skip
        s.add(SignOff(run=SIGNED, version=1, verdict="good", signed_by="alice", reason="known dead layer"))
        s.add(HalfpipeRun(run_id=MISMATCHED, status=MISMATCH, n_delivered=0, n_held=4000, n_late=0, reason=REASON,
                          hw_key=0x23, sw_key=0x1A2B, moot_key=0x1F45, last_data_utc=NOW - timedelta(hours=1)))  # fmt: skip
        s.add(HalfpipeRun(run_id=BAD, status="complete", n_delivered=9000, n_held=0, n_late=0, reason="",
                          hw_key=0x23, sw_key=0x1A2B, moot_key=0x1F44, revision=1))  # fmt: skip
    for name in ("tracker.png", "rates.png"):
        _png(site.monitor_plot_dir(BAD, 1) / name)
    return site


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_show_list_signoff_and_bad_intervals_through_the_command(db_url, capsys):
    site = populate_dq(db_url)
    code, out = _cli(capsys, "dq", "show", str(BAD))
    assert code == 0, out
    assert f"run {BAD} (r0796003600): bad" in out
    assert "tkr_hits dead-or-hot-layers (error): 0.97 vs limit 0.6; tower 3 layer 7" in out
    assert (
        "not signed off" in out
        and "configuration keys: hw_key=0x00000023 sw_key=0x00001A2B moot_key=0x00001F44" in out
    )
    assert str(site.monitor_plot_dir(BAD, 1) / "tracker.png") in out and "plots: 2" in out
    code, out = _cli(capsys, "dq", "list", "--verdict", "bad", "--json")
    assert code == 0 and [(r["run"], r["verdict"]) for r in json.loads(out)] == [
        (SIGNED, "bad"),
        (BAD, "bad"),
    ]
    code, out = _cli(capsys, "dq", "list")
    assert out.splitlines()[0] == "good 1, warning 2, bad 2"

    # a bad interval inside the run, one outside it; the run shows only its own
    code, out = _cli(capsys, "dq", "flag", "--start", str(BAD + 100), "--stop", str(BAD + 400),
                     "--reason", "solar flare X1.2", "--who", "bob")  # fmt: skip
    assert code == 0 and re.match(
        r"bad time interval (\d+) recorded: MET 796003700.000-796004000.000", out
    ), out
    first = int(re.match(r"bad time interval (\d+)", out)[1])
    assert _cli(capsys, "dq", "flag", "--start", "2026-11-20T10:00:00", "--stop", "2026-11-20T10:05:00",
                "--reason", "ACD anomaly", "--who", "bob")[0] == 0  # fmt: skip
    shown = json.loads(_cli(capsys, "dq", "show", f"r{BAD:010d}", "--json")[1])
    assert [(i["id"], i["reason"], i["who"], i["source"]) for i in shown["intervals"]] == [
        (first, "solar flare X1.2", "bob", "operator")
    ]
    assert shown["verdict"]["checks"][0]["quantity"] == "tkr_hits" and shown["halfpipe_state"] == "complete"
    code, out = _cli(capsys, "dq", "intervals")
    assert code == 0 and out.startswith("2 bad time intervals in force") and "ACD anomaly" in out

    # refused: a reversed interval, an unknown interval, a sign-off that is neither good nor bad
    code, out = _cli(
        capsys, "dq", "flag", "--start", "796004000", "--stop", "796003700", "--reason", "x", "--who", "b"
    )
    assert code == 1 and out.startswith("fermi-isoc dq flag: refused: ") and "stop must be after start" in out
    code, out = _cli(capsys, "dq", "unflag", "999", "--reason", "typo", "--who", "bob")
    assert code == 1 and "no bad time interval 999" in out
    code, out = _cli(capsys, "dq", "signoff", str(BAD), "maybe", "--who", "bob", "--reason", "x")
    assert code == 1 and "maybe" in out
    code, out = _cli(capsys, "dq", "show", "796999999")
    assert code == 1 and "no LAT run 796999999" in out

    # unflag, then sign off: who and why recorded
    code, out = _cli(capsys, "dq", "unflag", str(first), "--reason", "flare was later", "--who", "bob")
    assert code == 0 and f"bad time interval {first} removed by bob" in out
    assert json.loads(_cli(capsys, "dq", "show", str(BAD), "--json")[1])["intervals"] == []
    code, out = _cli(
        capsys, "dq", "signoff", str(BAD), "bad", "--who", "carol", "--reason", "TKR tower 3 dead"
    )
    assert code == 0 and out.strip() == f"run {BAD} signed off bad by carol: TKR tower 3 dead"
    shown = json.loads(_cli(capsys, "dq", "show", str(BAD), "--json")[1])
    assert (shown["state"], shown["verdict"]["signed_by"], shown["verdict"]["reason"]) == (
        "signed off bad", "carol", "TKR tower 3 dead",
    )  # fmt: skip
    code, out = _cli(capsys, "dq", "reference", str(GOOD), "--who", "carol")
    assert code == 0 and f"run {GOOD} is the reference run, set by carol" in out
    code, out = _cli(capsys, "dq", "reference", "796999999", "--who", "carol")
    assert code == 1 and "refused" in out


def _alarms(url: str) -> dict[tuple[str, str], object]:
    from sqlalchemy.orm import Session

    specs = [s for s in load_alarms() if s.name in ("run-quality", "config-key-mismatch")]
    with Session(get_engine(url)) as session:
        return {(r.alarm, r.key): r for r in evaluate(specs, Context(session, now=NOW))}


def test_run_quality_and_config_key_mismatch_alarms(db_url):
    populate_dq(db_url)
    got = _alarms(db_url)
    assert {k: r.severity for k, r in got.items()} == {
        ("run-quality", run_folder(BAD)): Severity.ERROR,
        ("run-quality", run_folder(OLD_WARNING)): Severity.WARNING,
        ("run-quality", run_folder(NEW_WARNING)): Severity.OK,  # 1 h old: within its 24 h to be signed off
        ("config-key-mismatch", run_folder(MISMATCHED)): Severity.WARNING,
    }
    bad = got[("run-quality", run_folder(BAD))]
    assert "verdict bad" in bad.message and "tkr_hits dead-or-hot-layers (error)" in bad.message
    assert bad.runbook == "data-quality"
    assert "not signed off for 30.0 h" in got[("run-quality", run_folder(OLD_WARNING))].message
    mismatch = got[("config-key-mismatch", run_folder(MISMATCHED))]
    assert "moot_key 0x00001F45 in the data, 0x00001F44 planned" in mismatch.message
    assert "keys in the data: hw_key=0x00000023 sw_key=0x00001A2B moot_key=0x00001F45" in mismatch.message
    assert mismatch.runbook == "config-key-mismatch"
    # signing the bad run off ends its alarm
    with session_scope(db_url) as s:
        s.add(SignOff(run=BAD, version=1, verdict="bad", signed_by="carol", reason="dead layer"))
    assert ("run-quality", run_folder(BAD)) not in _alarms(db_url)


def test_no_monitoring_tables_means_no_item(tmp_path, monkeypatch):
    """A database where Level 1 never ran: the alarms say ok, the page has nothing to show."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    specs = [s for s in load_alarms() if s.name in ("run-quality", "config-key-mismatch")]
    with Session(engine) as session:
        results = evaluate(specs, Context(session, now=NOW, fermi_home=tmp_path))
    assert {(r.alarm, r.severity) for r in results} == {
        ("run-quality", Severity.OK), ("config-key-mismatch", Severity.OK),
    }  # fmt: skip


@pytest.fixture
def dq_client(db_url):
    populate_dq(db_url)
    app = create_app(Settings(db_url=db_url, operator_token=TOKEN, refresh_seconds=2))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        yield c


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_run_page_shows_verdict_checks_plots_and_intervals_and_signs_off(dq_client, capsys):
    main(
        [
            "dq",
            "flag",
            "--start",
            str(BAD + 100),
            "--stop",
            str(BAD + 400),
            "--reason",
            "solar flare",
            "--who",
            "bob",
        ]
    )
    html = dq_client.get(f"/lat-runs/{BAD}/dq").text
    assert 'data-verdict="bad"' in html and '<b class="dq-bad" id="dq-verdict-value">bad</b>' in html
    assert re.findall(r'<tr class="dq-check-row" data-quantity="([\w.]+)" data-severity="(\w+)">', html) == [
        ("tkr_hits", "error")
    ]
    plots = re.findall(r'<img class="dq-plot" src="([^"]+)"', html)
    assert plots == [f"/lat-runs/{BAD}/dq/plots/tracker.png", f"/lat-runs/{BAD}/dq/plots/rates.png"]
    png = dq_client.get(plots[0])
    assert (
        png.status_code == 200
        and png.headers["content-type"] == "image/png"
        and png.content[:4] == b"\x89PNG"
    )
    assert dq_client.get(f"/lat-runs/{BAD}/dq/plots/..%2F..%2Ffermi.db").status_code == 404
    assert dq_client.get(f"/lat-runs/{BAD}/dq/plots/classes.png").status_code == 404
    assert re.findall(r'<tr class="dq-interval-row" data-id="(\d+)">.*?solar flare', html, re.S)
    assert "moot_key=0x00001F44" in html
    assert dq_client.get("/lat-runs/796999999/dq").status_code == 404
    # the mismatched run: no verdict, held, both keys named
    held = dq_client.get(f"/lat-runs/{MISMATCHED}/dq").text
    assert "held: configuration key mismatch" in held and "0x00001F45 in the data, 0x00001F44 planned" in held
    # sign-off: refused without the token, recorded with it
    form = {"verdict": "bad", "operator": "dave", "reason": "dead TKR layer", "csrf_token": _csrf(html)}
    refused = dq_client.post(f"/lat-runs/{BAD}/dq/signoff", data={**form, "token": "wrong"})
    assert refused.status_code == 403 and "operator token missing or wrong" in refused.text
    assert (
        dq_client.post(
            f"/lat-runs/{BAD}/dq/signoff", data={**form, "token": TOKEN, "csrf_token": "x"}
        ).status_code
        == 400
    )
    done = dq_client.post(f"/lat-runs/{BAD}/dq/signoff", data={**form, "token": TOKEN})
    assert done.status_code == 200 and f"Run {BAD} signed off bad by dave: dead TKR layer" in done.text
    assert '<b class="dq-bad" id="dq-signoff">bad</b> by dave' in dq_client.get(f"/lat-runs/{BAD}/dq").text
    no_verdict = dq_client.post(f"/lat-runs/{MISMATCHED}/dq/signoff", data={**form, "token": TOKEN})
    assert no_verdict.status_code == 400 and "has no data-quality verdict" in no_verdict.text
    # the list by verdict, and the badge on the index
    listed = dq_client.get("/dq?verdict=warning").text
    assert re.findall(r'<tr class="dq-run-row" data-run="(\d+)" data-verdict="(\w+)">', listed) == [
        (str(NEW_WARNING), "warning"), (str(OLD_WARNING), "warning"),
    ]  # fmt: skip
    assert dq_client.get("/dq?verdict=nice").status_code == 400


def test_index_rows_carry_the_dq_badge(db_url):
    from ._pageworld import populate_lat_runs
    from .conftest import Db

    get_engine(db_url)
    populate_lat_runs(Db(db_url))
    with session_scope(db_url) as s:
        s.add(Verdict(run=796000000, version=1, verdict="warning", n_checks=12, config_digest="0" * 64,
                      checks=json.dumps({"failed": [RATE], "excepted": [], "skipped": []})))  # fmt: skip
    app = create_app(Settings(db_url=db_url, operator_token=TOKEN, per_page=10))
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        html = c.get("/").text
        run = re.search(r'<tbody class="lat-run" data-run="796000000".*?</tbody>', html, re.S).group(0)
        assert re.search(r'<a class="dq-badge dq-warning" data-verdict="warning" href="/lat-runs/796000000/dq">'
                         r"warning \(1\)</a>", run)  # fmt: skip
        other = re.search(r'<tbody class="lat-run" data-run="796003600".*?</tbody>', html, re.S).group(0)
        assert '<td rowspan="3" class="dq">—</td>' in other or 'class="dq">—</td>' in other
        assert 'href="/lat-runs/796000000/dq"' in c.get("/lat-runs/796000000").text
