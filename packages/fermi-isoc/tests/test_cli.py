"""Smoke tests of the ``fermi-isoc`` command: it imports, answers --help and --version."""

import pytest

import fermi_isoc
from fermi_isoc.cli import main


def test_version_matches_package(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fermi-isoc {fermi_isoc.__version__}"


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fermi-isoc")


def test_unknown_option_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_plan_week_prints_passages_and_flags_commands(tmp_path, capsys):
    tle = tmp_path / "fermi.tle"
    tle.write_text(
        "1 33053U 08029A   14161.76628270  .00001306  00000-0  63609-4 0  5886\n"
        "2 33053 025.5822 296.4061 0013102 145.0912 215.0483 15.08435056330496\n"
    )
    load = tmp_path / "load.csv"
    load.write_text("name,start,duration_s\nstop/start,2014-08-13T23:59:55,10\n")
    # the TLE is 57 days older than the week: refused unless allowed (then a warning)
    assert main(["plan", "--week", "323", "--tle", str(tle), "--commands", str(load)]) == 2
    assert "--allow-old-tle" in capsys.readouterr().out
    assert main(["plan", "--week", "323", "--tle", str(tle), "--commands", str(load), "--allow-old-tle"]) == 1
    out = capsys.readouterr().out
    assert "mission week 323: 2014-08-07T00:00:00 .. 2014-08-14T00:00:00 UTC" in out
    assert "SAA passages" in out and "COMMAND: stop/start" in out
    assert "WARNING: TLE epoch 2014-06-10" in out


def test_plan_json_and_bad_tle(tmp_path, capsys):
    import json

    assert main(["plan", "--week", "900", "--json", "--allow-old-tle"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["week"] == 900 and plan["utc_start"] == "2025-08-28T00:00:00"
    assert 8 <= plan["summary"]["per_day"] <= 12
    bad = tmp_path / "bad.tle"
    bad.write_text("nonsense\n")
    assert main(["plan", "--week", "900", "--tle", str(bad)]) == 2
    assert f"{bad}: expected 2 TLE lines" in capsys.readouterr().out


def test_serve_binds_to_localhost_by_default():
    from fermi_isoc.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8080)


def test_every_subcommand_is_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "alarms", "rerun", "retention", "plan", "report"):
        assert command in out
