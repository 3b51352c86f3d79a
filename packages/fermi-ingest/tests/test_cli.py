"""Smoke tests of the ``fermi-ingest`` command: it imports, answers --help and --version."""

import pytest

import fermi_ingest
from fermi_ingest.cli import main


def test_version_matches_package(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fermi-ingest {fermi_ingest.__version__}"


def test_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fermi-ingest")


def test_unknown_option_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


UNREACHABLE = "postgresql+psycopg://u:pw@127.0.0.1:1/x"


@pytest.mark.parametrize("command", [["status"], ["gaps", "--open"], ["ingest", "DELIVERY"]])
def test_database_outage_is_one_line(command, tmp_path, capsys, monkeypatch):
    from fermi_ingest import synthetic as sy

    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    cols = sy.event_stream(956, 600_000_000, 3, 600_000_000.0)
    sy.write_delivery(tmp_path / "230501001", "230501001", [cols])
    argv = [a if a != "DELIVERY" else str(tmp_path / "230501001") for a in command]
    rc = main(["--home", str(tmp_path / "home"), "--db-url", UNREACHABLE, *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.splitlines() == [err] and "Traceback" not in err
    assert err.startswith(
        f"fermi-ingest {command[0]}: database postgresql+psycopg://u:***@127.0.0.1:1/x unreachable"
    )
    assert "pw" not in err
    assert not list((tmp_path / "home").glob(".unpack-*"))
