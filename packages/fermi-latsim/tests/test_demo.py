"""The demo simulates, runs the existing stages through their commands and reports honestly."""

from fermi_latsim.demo import main


def test_demo_simulates_and_ingests(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FERMI_DB_URL", raising=False)
    assert main(["--home", str(tmp_path), "--hours", "0.1", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "fermi_ingest ingest" in out and "deliveries : 3" in out
    assert (tmp_path / "latsim" / "truth" / "events.parquet").is_file()
    assert (tmp_path / "archive" / "level0").is_dir()  # written by fermi-ingest, not by the demo
