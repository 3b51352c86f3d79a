"""Alarms: each kind fires on the condition it watches, the file is validated, metrics render."""

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_isoc.alarms import AlarmConfigError, Context, Severity, evaluate, load_alarms, parse_alarms, worst
from fermi_isoc.alarms.prometheus import render
from fermi_isoc.models import MetricSample

from .conftest import NOW


def _eval(db, toml: str, now=NOW, home=None):
    specs = parse_alarms(toml, source="test.toml")
    with Session(get_engine(db.url)) as session:
        ctx = Context(session, now=now) if home is None else Context(session, now=now, fermi_home=home)
        return evaluate(specs, ctx)


DEAD_MAN = """
[[alarm]]
name = "dead-mans-switch"
quantity = "hours_since_last_delivery"
algorithm = "upper"
warning = 6.0
error = 12.0
missing = "error"
"""


def test_dead_mans_switch_fires_when_deliveries_stop(db):
    assert [r.severity for r in _eval(db, DEAD_MAN)] == [Severity.ERROR]  # nothing ever received
    db.delivery("d1", age_h=30)
    db.delivery("d2", age_h=2)
    (r,) = _eval(db, DEAD_MAN)
    assert (r.severity, r.firing, round(r.value, 6)) == (Severity.OK, False, 2.0)
    # deliveries stop: 7 h later a warning, 13 h later an error
    assert _eval(db, DEAD_MAN, now=NOW + timedelta(hours=7))[0].severity == Severity.WARNING
    late = _eval(db, DEAD_MAN, now=NOW + timedelta(hours=13))[0]
    assert late.severity == Severity.ERROR and late.firing
    assert "hours_since_last_delivery = 15" in late.message


GAP = """
[[alarm]]
name = "gap-not-filled"
quantity = "open_gap_age_hours"
algorithm = "upper"
warning = 24.0
error = 72.0
missing = "ok"
[[alarm.exceptions]]
key = "apid 1021 *"
until = "2026-12-01T00:00:00"
reason = "EPU 1 off for a test"
"""


def test_gap_not_filled_in_time_and_known_exceptions(db):
    old = db.delivery("d1", age_h=100)
    recent = db.delivery("d2", age_h=30)
    db.gap(old, apid=956, status="filled")
    assert [(r.severity, r.firing) for r in _eval(db, GAP)] == [(Severity.OK, False)]  # filled: no item
    db.gap(recent, apid=957)
    db.gap(old, apid=958, met=7.1e8)
    db.gap(old, apid=1021, met=7.2e8)
    results = {r.key.split()[1]: r for r in _eval(db, GAP)}
    assert results["957"].severity == Severity.WARNING
    assert results["958"].severity == Severity.ERROR
    assert results["1021"].severity == Severity.OK and results["1021"].excused == "EPU 1 off for a test"
    # the exception expires
    after = {r.key.split()[1]: r for r in _eval(db, GAP, now=NOW + timedelta(days=20))}
    assert after["1021"].severity == Severity.ERROR and after["1021"].excused == ""


HELD_FAILED = """
[[alarm]]
name = "run-held-back"
quantity = "held_run_age_hours"
algorithm = "upper"
warning = 12.0
error = 48.0
missing = "ok"

[[alarm]]
name = "failed-attempts"
quantity = "failed_attempts"
algorithm = "upper"
warning = 1.0
error = 3.0
missing = "ok"
"""


def test_run_held_back_too_long_and_failed_attempts(db):
    db.run("L1Proc/r1", "held", age_h=20)
    db.run("L1Proc/r2", "held", age_h=60)
    db.run("L1Proc/r3", "running", age_h=100)
    fails = [(n, "crashed", 137, "node1", 2) for n in (1, 2, 3, 4)]
    db.run("L1Proc/r4", "failed", attempts=fails)
    db.run("L1Proc/r5", "running", attempts=[*fails[:2], (3, "running", None, "node2", None)])
    db.run("L1Proc/r6", "done", attempts=[fails[0], (2, "done", 0, "node2", 3)])  # recovered
    results = {(r.alarm, r.key): r.severity for r in _eval(db, HELD_FAILED)}
    assert results == {
        ("run-held-back", "L1Proc/r1"): Severity.WARNING,
        ("run-held-back", "L1Proc/r2"): Severity.ERROR,
        ("failed-attempts", "L1Proc/r4"): Severity.ERROR,
        ("failed-attempts", "L1Proc/r5"): Severity.WARNING,
    }


RATES = """
[[alarm]]
name = "trigger-rate"
quantity = "trigger_rate_hz"
algorithm = "range"
reduce = "mean"
window_hours = 24
warning = [1500.0, 2500.0]
error = [1000.0, 3500.0]
missing = "warning"

[[alarm]]
name = "livetime"
quantity = "livetime_fraction"
algorithm = "range"
warning = [0.75, 1.0]
error = [0.6, 1.0]
"""


def _samples(db, quantity, values, ages_h):
    from astropy.time import Time

    from fermi_sciencetools_shim.time import time_to_met

    with Session(get_engine(db.url)) as s:
        for v, age in zip(values, ages_h, strict=True):
            met = time_to_met(Time(NOW - timedelta(hours=age)))
            s.add(MetricSample(quantity=quantity, key=f"run {age}", met=met, value=v, source="test"))
        s.commit()


@pytest.mark.parametrize(
    ("rates", "severity"),
    [([1850.0, 1900.0], Severity.OK), ([1200.0, 1300.0], Severity.WARNING), ([700.0, 900.0], Severity.ERROR)],
)
def test_trigger_rate_daily_mean_against_limits(db, rates, severity):
    _samples(db, "trigger_rate_hz", [*rates, 99999.0], [2, 5, 30])  # the 30 h old one is outside the window
    (r,) = [r for r in _eval(db, RATES) if r.alarm == "trigger-rate"]
    assert r.severity == severity and r.value == pytest.approx(sum(rates) / 2)


def test_livetime_fraction_each_sample_and_missing_data(db):
    results = _eval(db, RATES)
    assert [(r.alarm, r.severity) for r in results] == [
        ("trigger-rate", Severity.WARNING),  # no trigger-rate samples: 'missing = warning'
        ("livetime", Severity.WARNING),
    ]
    _samples(db, "livetime_fraction", [0.9, 0.7, 0.5], [1, 2, 3])
    live = [r.severity for r in _eval(db, RATES) if r.alarm == "livetime"]
    assert live == [Severity.ERROR, Severity.WARNING, Severity.OK]  # oldest first


def test_disk_usage(db, tmp_path):
    toml = """
[[alarm]]
name = "disk"
quantity = "disk_used_fraction"
algorithm = "upper"
warning = {w}
error = 1.0
missing = "error"
paths = ["{p}", "{p}/missing"]
"""
    ok = _eval(db, toml.format(w=1.0, p=tmp_path))
    assert [r.severity for r in ok] == [Severity.OK, Severity.ERROR]  # an unreadable path is an error
    assert 0 < ok[0].value < 1 and "cannot stat" in ok[1].message
    assert _eval(db, toml.format(w=0.0, p=tmp_path))[0].severity == Severity.WARNING
    # default: the file system of FERMI_HOME
    default = _eval(
        db,
        '[[alarm]]\nname="d"\nquantity="disk_used_fraction"\nalgorithm="upper"\nerror=1.0\n',
        home=tmp_path,
    )
    assert default[0].key == str(tmp_path)


def test_watchdog_always_fires_without_raising_the_severity(db):
    (r,) = _eval(db, '[[alarm]]\nname = "watchdog"\nquantity = "watchdog"\nalgorithm = "always"\n')
    assert r.firing and r.severity == Severity.OK
    assert worst([r]) == Severity.OK


def test_default_alarm_file_is_valid():
    specs = load_alarms()
    assert {s.quantity for s in specs} >= {
        "watchdog", "hours_since_last_delivery", "open_gap_age_hours", "held_run_age_hours",
        "failed_attempts", "trigger_rate_hz", "livetime_fraction", "disk_used_fraction",
    }  # fmt: skip


BASE = '[[alarm]]\nname = "a"\nquantity = "trigger_rate_hz"\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[[alarm]\n", "test.toml: not valid TOML"),
        ("x = 1\n", "test.toml: unknown top-level key"),
        ("", "no \\[\\[alarm\\]\\] table defined"),
        (BASE + 'algorithm = "spikes"\n', "#1 \\(a\\): key 'algorithm': 'spikes' is not one of"),
        (BASE.replace("trigger_rate_hz", "rate") + 'algorithm = "upper"\nerror=1\n', "key 'quantity': unknown quantity 'rate'"),
        (BASE + 'algorithm = "upper"\nwarning = 5.0\nerror = 2.0\n', "key 'warning': 5 is above the error limit 2"),
        (BASE + 'algorithm = "lower"\nwarning = 1.0\nerror = 2.0\n', "key 'warning': 1 is below the error limit 2"),
        (BASE + 'algorithm = "upper"\nwarning = "high"\n', "key 'warning': must be a finite number, got 'high'"),
        (BASE + 'algorithm = "upper"\n', "algorithm 'upper' needs a limit"),
        (BASE + 'algorithm = "range"\nwarning = [1, 2]\nerror = [1.5, 3]\n', "must contain the warning band"),
        (BASE + 'algorithm = "range"\nwarning = 1\nerror = [0, 3]\n', "key 'warning': a range algorithm needs"),
        (BASE + 'algorithm = "always"\nwarning = 1\n', "algorithm 'always' takes no limits"),
        (BASE + 'algorithm = "upper"\nerror = 1\nlimit = 3\n', "unknown key\\(s\\) limit"),
        (BASE + 'algorithm = "upper"\nerror = 1\nmissing = "panic"\n', "key 'missing'"),
        (BASE + 'algorithm = "upper"\nerror = 1\nexceptions = [{key = "x"}]\n', "exceptions\\[0\\]: key 'reason'"),
        (BASE + 'algorithm = "upper"\nerror = 1\nexceptions = [{key = "x", reason = "r", until = "soon"}]\n',
         "key 'until': 'soon' is not an ISO"),
        (BASE + 'algorithm = "upper"\nerror = 1\n' + BASE + 'algorithm = "upper"\nerror = 1\n', "#2: key 'name': 'a' is defined twice"),
    ],
)  # fmt: skip
def test_bad_alarm_files_name_file_alarm_key_and_reason(toml, message):
    with pytest.raises(AlarmConfigError, match=message):
        parse_alarms(toml, source="test.toml")


def test_prometheus_text_parses_and_carries_every_result(db):
    db.delivery("d1", age_h=20)
    results = _eval(db, DEAD_MAN + RATES)
    text = render(results, NOW)
    parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client not installed")
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    severity = {s.labels["alarm"]: s.value for s in families["fermi_isoc_alarm_severity"].samples}
    assert severity == {"dead-mans-switch": 2, "trigger-rate": 1, "livetime": 1}
    values = {s.labels["alarm"]: s.value for s in families["fermi_isoc_alarm_value"].samples}
    assert values["dead-mans-switch"] == pytest.approx(20.0)
    assert families["fermi_isoc_alarms_evaluated_timestamp_seconds"].samples[0].value == NOW.timestamp()


def test_alarms_command_exit_code_is_the_worst_severity(db, tmp_path, capsys):
    from fermi_isoc.cli import main

    conf = tmp_path / "alarms.toml"
    conf.write_text(DEAD_MAN)
    db.delivery("d1", age_h=0.5)  # ingested_at is NOW - 0.5 h; NOW is in the past: stale by days
    assert main(["alarms", "--config", str(conf)]) == 2
    out = capsys.readouterr().out
    assert "dead-mans-switch" in out and "worst severity: error" in out
    conf.write_text('[[alarm]]\nname = "w"\nquantity = "watchdog"\nalgorithm = "always"\n')
    assert main(["alarms", "--config", str(conf), "--prometheus"]) == 0
    assert (
        'fermi_isoc_alarm_firing{alarm="w",quantity="watchdog",key="watchdog"} 1' in capsys.readouterr().out
    )
    conf.write_text("[[alarm]]\nname = 3\n")
    assert main(["alarms", "--config", str(conf)]) == 3
    assert f"{conf}: [[alarm]] #1 (3): key 'name'" in capsys.readouterr().out
