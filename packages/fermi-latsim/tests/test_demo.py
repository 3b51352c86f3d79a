"""The demo simulates, runs the existing stages through their commands and reports honestly."""

import re

from fermi_latsim.demo import main


def test_demo_simulates_and_ingests(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    assert main(["--home", str(tmp_path), "--hours", "0.1", "--seed", "2", "--profile", "light"]) == 0
    out = capsys.readouterr().out
    assert "fermi_ingest ingest" in out and "deliveries : 3" in out
    assert (tmp_path / "latsim" / "truth" / "events.parquet").is_file()
    assert (tmp_path / "archive" / "level0").is_dir()  # written by fermi-ingest, not by the demo


def test_demo_summary_accounts_for_every_event_and_lists_real_products(tmp_path, capsys, monkeypatch):
    import re
    from pathlib import Path

    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    assert main(["--home", str(tmp_path), "--hours", "0.1", "--seed", "2", "--profile", "light"]) == 0
    out = capsys.readouterr().out
    events_in = int(re.search(r"events in  : (\d+)", out).group(1))
    merged = int(re.search(r"events merged (\d+), held back (\d+)", out).group(1))
    held = int(re.search(r"events merged (\d+), held back (\d+)", out).group(2))
    assert merged + held == events_in
    assert int(re.search(r"events out : (\d+)", out).group(1)) == merged
    listed = re.findall(r"^\s+(?:FT1|FT2|FT2SECONDS|EXTENDEDFT1|LS1)\s+run \d+: .* (/\S+\.fit)$", out, re.M)
    assert listed and all(Path(p).is_file() for p in listed)


def test_demo_command_of_fermi_latsim(tmp_path, capsys, monkeypatch):
    from fermi_latsim.cli import main as cli_main

    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    # the command's default profile is the flight one (a minute of it: ~25 k events read out)
    assert cli_main(["demo", "--home", str(tmp_path), "--hours", "0.02", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "events out :" in out and "products   :" in out and "(flight profile" in out
    assert int(re.search(r"events in  : (\d+)", out).group(1)) > 10_000  # light: ~650 in 72 s
