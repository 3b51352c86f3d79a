"""Release validation: two catalogued versions of a run compared, the checks, the verdict, the report.

Version 1 is made once by the L1 (:func:`make_run_products` on a synthetic run input); each test
registers it in its own catalog and, as version 2, copies of it with known changes: energies
changed, events dropped, a GTI shortened, an FT2 livetime changed. The comparison must report
exactly those changes and judge them per the thresholds.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from fermi_core.site import Site
from fermi_l1 import synthetic
from fermi_l1.catalog.api import register
from fermi_l1.db import session
from fermi_l1.naming import KINDS, ProductName
from fermi_l1.pipeline.inputs import write_run_inputs
from fermi_l1.pipeline.l1run import make_run_products
from fermi_l1.validation.cli import main
from fermi_l1.validation.compare import compare, data_types
from fermi_l1.validation.config import ConfigError, load_config
from fermi_l1.validation.report import SCHEMA, write_report
from fermi_l1.validation.selection import SelectionError, fixed_versions, load_side
from fermi_l1.validation.stats import ks_2samp
from fermi_l1.validation.timeline import subtract
from fermi_sciencetools_shim.gti import Gti
from fermi_sciencetools_shim.io.ft1 import read_events

RUN = 239557414
START, STOP = RUN + 0.5, RUN + 120.0
N_EVENTS = 300
DROPPED = 10  # events removed from the v002 extended file
RESCALED = 20  # events whose ENERGY is doubled in v002
GTI_CUT = 5.0  # seconds cut from the end of the v002 extended file's last GTI


@pytest.fixture(scope="module")
def v001(tmp_path_factory) -> dict[str, Path]:
    """The L1 products (version 1) of one synthetic run: data type -> file."""
    home = tmp_path_factory.mktemp("l1")
    site = Site(home, f"sqlite:///{home / 'scratch.db'}")
    samples = synthetic.spacecraft_samples(RUN - 5.0, STOP - RUN + 10.0)
    merit = synthetic.merit_table(samples, START, STOP, N_EVENTS, seed=7)
    write_run_inputs(site.l1_input_dir(RUN), RUN, START, STOP, samples, [merit])
    paths = make_run_products(site.l1_input_dir(RUN), site.products, site.outbox, date="2024-05-01T12:00:00",
                              db_url=site.db_url, site=site)  # fmt: skip
    out = {ProductName.parse(Path(p).name).data_type: Path(p) for p in paths}
    assert set(out) == {kind[2] for kind in KINDS.values()}
    return out


@pytest.fixture
def sqlite_url(tmp_path, monkeypatch) -> str:
    """A fresh SQLite catalog as FERMI_DB_URL (the checks not about the backend run on SQLite only)."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("FERMI_DB_URL", url)
    monkeypatch.setenv("FERMI_HOME", str(tmp_path / "home"))
    return url


@pytest.fixture
def quick(tmp_path) -> Path:
    """A configuration comparing the ENERGY distribution only (one plot: faster reports)."""
    path = tmp_path / "quick.toml"
    path.write_text('[distributions]\ncolumns = ["ENERGY"]\n')
    return path


def _n_events(path: Path) -> int:
    with fits.open(path) as hdul:
        return len(hdul["EVENTS"].data)


def _register(url: str, files: dict[str, Path], version: int) -> None:
    with session(url) as s:
        for data_type, path in files.items():
            register(s, path, data_type=data_type, version=version, met_start=START, met_stop=STOP, run=RUN)


def _v2_name(path: Path, folder: Path) -> Path:
    name = ProductName.parse(path.name)
    return folder / ProductName(name.kind, name.run, 2, name.proc).filename


def _make_v002(v001: dict[str, Path], folder: Path, *, drop=0, rescale=0, factor=2.0, gti_cut=0.0,
               livetime_row=None) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Copies of v001 as v002: in the extended file ``drop`` events removed, ``rescale`` energies
    multiplied by ``factor``, ``gti_cut`` s cut from the last GTI; FT2 row ``livetime_row`` halved."""
    folder.mkdir(parents=True, exist_ok=True)
    out, truth = {}, {}
    for data_type, src in v001.items():
        dest = _v2_name(src, folder)
        if data_type == "EXTENDEDFT1":
            with fits.open(src) as hdul:
                data = hdul["EVENTS"].data
                ids = np.asarray(data["EVENT_ID"])
                truth["dropped"] = set(ids[5 : 5 + drop].tolist())
                truth["rescaled"] = set(ids[100 : 100 + rescale].tolist())
                data["ENERGY"][100 : 100 + rescale] *= factor
                hdul["EVENTS"].data = data[~np.isin(ids, list(truth["dropped"]))]
                hdul["GTI"].data["STOP"][-1] -= gti_cut
                truth["gti_stop"] = float(hdul["GTI"].data["STOP"][-1])
                hdul.writeto(dest, checksum=True)
        elif data_type == "FT2" and livetime_row is not None:
            with fits.open(src) as hdul:
                hdul["SC_DATA"].data["LIVETIME"][livetime_row] *= 0.5
                hdul.writeto(dest, checksum=True)
        else:
            shutil.copyfile(src, dest)
        out[data_type] = dest
    return out, truth


def _sides(url: str, old: int, new: int, config):
    site = Site.from_env()
    with session(url) as s:
        types = data_types(config)
        a = load_side(s, site, f"v{old:03d}", fixed_versions(s, [RUN], old, "EXTENDEDFT1"), types)
        b = load_side(s, site, f"v{new:03d}", fixed_versions(s, [RUN], new, "EXTENDEDFT1"), types)
    return a, b


def _checks(cmp) -> dict[str, object]:
    return {c.name: c for c in cmp.checks}


def test_a_version_compared_with_itself_reports_no_difference(v001, db_url, tmp_path):
    _register(db_url, v001, 1)
    config = load_config()
    cmp = compare(*_sides(db_url, 1, 1, config), config)
    assert cmp.verdict == "accept" and cmp.exit_code == 0
    assert cmp.differences == [] and all(c.status == "ok" and c.value == 0 for c in cmp.checks)
    assert cmp.events.matched == cmp.events.n_old == cmp.events.n_new > 0
    files = write_report(cmp, tmp_path / "report")
    verdict = json.loads(files.verdict.read_text())
    assert (
        verdict["verdict"] == "accept"
        and verdict["identical"]
        and verdict["failing"] == verdict["warning"] == []
    )
    assert verdict["events"]["removed_events"] == verdict["events"]["changed_events"] == []


def test_v001_against_v002_reports_exactly_the_changes_and_rejects(v001, db_url, tmp_path):
    _register(db_url, v001, 1)
    v002, truth = _make_v002(v001, tmp_path / "v002", drop=DROPPED, rescale=RESCALED, gti_cut=GTI_CUT,
                             livetime_row=2)  # fmt: skip
    _register(db_url, v002, 2)
    out = tmp_path / "report"
    assert main(["validate", "--runs", f"r{RUN:010d}", "--old-version", "1", "--new-version", "2",
                 "--out", str(out)]) == 2  # fmt: skip
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["verdict"] == "reject" and verdict["exit_code"] == 2 and not verdict["identical"]
    ev, n_old = verdict["events"], _n_events(v001["EXTENDEDFT1"])
    assert ev["old"] == n_old and ev["new"] == n_old - DROPPED
    assert (ev["removed"], ev["added"], ev["changed"]) == (DROPPED, 0, RESCALED)
    assert {e["event_id"] for e in ev["removed_events"]} == truth["dropped"]
    assert {e["event_id"] for e in ev["changed_events"]} == truth["rescaled"]
    assert ev["changed_columns"] == {"ENERGY": RESCALED}  # nothing else changed
    first = ev["changed_events"][0]["columns"]["ENERGY"]
    assert first["new"] == pytest.approx(2 * first["old"], rel=1e-6)
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["counts/EXTENDEDFT1"]["value"] == pytest.approx(DROPPED / n_old)
    events, _ = read_events(v001["EXTENDEDFT1"], ["EVENT_ID", "EVENT_CLASS", "EVENT_TYPE"])
    gone = np.isin(events["EVENT_ID"], list(truth["dropped"]))
    for name, column, bit in (("class/SOURCE", "EVENT_CLASS", 7), ("type/BACK", "EVENT_TYPE", 1)):
        had = int(np.count_nonzero(events[column] & (1 << bit)))
        lost = int(np.count_nonzero(events[column][gone] & (1 << bit)))
        assert checks[f"counts/{name}"]["detail"].startswith(f"{had} -> {had - lost} ")
    rare = [
        c for c in checks.values() if c["name"].startswith("counts/type/PSF") and "not judged" in c["detail"]
    ]
    assert rare and all(c["status"] == "ok" and c["value"] > 0 for c in rare)  # < min_events: reported only
    assert checks["counts/FT1"]["value"] == checks["counts/LS1"]["value"] == 0
    gti = verdict["gti"]
    assert gti["EXTENDEDFT1"]["only_old"] == [
        [pytest.approx(truth["gti_stop"]), pytest.approx(truth["gti_stop"] + GTI_CUT)]
    ]
    assert gti["EXTENDEDFT1"]["only_new"] == [] and gti["FT1"]["only_old"] == gti["FT1"]["only_new"] == []
    assert verdict["ft2"]["differing"] == 1 and list(verdict["ft2"]["columns"]) == ["LIVETIME"]
    assert verdict["ft2"]["livetime_new"] < verdict["ft2"]["livetime_old"]
    assert set(verdict["failing"]) >= {
        "counts/EXTENDEDFT1",
        "events/removed",
        "gti/EXTENDEDFT1",
        "livetime",
        "ft2",
    }
    assert "events/changed" in verdict["warning"]  # changed events warn, never fail (default)
    assert checks["gti/FT1"]["status"] == checks["events/added"]["status"] == "ok"
    lines = (out / "events.csv").read_text().splitlines()
    assert lines[0] == "run_id,event_id,status,changed_columns" and len(lines) == 1 + DROPPED + RESCALED
    assert sum(line.endswith(",changed,ENERGY") for line in lines) == RESCALED


def test_thresholds_from_a_config_file_give_warn(v001, sqlite_url, tmp_path, quick, capsys):
    _register(sqlite_url, v001, 1)
    v002, _ = _make_v002(v001, tmp_path / "v002", rescale=RESCALED, factor=1.01)
    _register(sqlite_url, v002, 2)
    strict = tmp_path / "strict.toml"
    strict.write_text("[events]\nchanged_fail = 0.05\n")
    cmp = compare(*_sides(sqlite_url, 1, 2, load_config(strict)), load_config(strict))
    n_old = _n_events(v001["EXTENDEDFT1"])
    assert cmp.verdict == "reject" and [c.name for c in cmp.checks if c.status == "fail"] == [
        "events/changed"
    ]
    assert _checks(cmp)["events/changed"].detail == f"20 of {n_old} events changed: ENERGY 20"
    lenient = tmp_path / "lenient.toml"
    lenient.write_text('[events]\nchanged_warn = 0.1\n[distributions]\nwarn = "off"\nfail = "off"\n')
    assert compare(*_sides(sqlite_url, 1, 2, load_config(lenient)), load_config(lenient)).verdict == "accept"
    # the command's defaults (new = latest, old = the version it supersedes): changed energies warn
    assert main(["validate", "--runs", str(RUN), "--out", str(tmp_path / "c"), "--config", str(quick)]) == 1
    assert "warn: events/changed: 20 of" in capsys.readouterr().out
    verdict = json.loads((tmp_path / "c" / "verdict.json").read_text())
    assert verdict["old"]["versions"] == {str(RUN): 1} and verdict["new"]["versions"] == {str(RUN): 2}
    assert verdict["warning"] == ["events/changed"] and verdict["failing"] == []
    assert checks_ok_but(verdict, "events/changed", "distribution/ENERGY")


def checks_ok_but(verdict: dict, *names: str) -> bool:
    """Every check but ``names`` found no difference at all."""
    return all(c["value"] == 0 for c in verdict["checks"] if c["name"] not in names)


def test_verdict_schema_and_html_report_with_its_plots(v001, sqlite_url, tmp_path):
    _register(sqlite_url, v001, 1)
    v002, _ = _make_v002(v001, tmp_path / "v002", drop=3, rescale=5)
    _register(sqlite_url, v002, 2)
    out = tmp_path / "report"
    main(["validate", "--runs", str(RUN), "--old-version", "1", "--new-version", "2", "--out", str(out)])
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["schema"] == SCHEMA
    assert {"verdict", "exit_code", "identical", "failing", "warning", "checks", "old", "new", "runs", "products",
            "events", "gti", "ft2", "config", "files", "created", "software"} <= set(verdict)  # fmt: skip
    assert verdict["verdict"] in ("accept", "warn", "reject") and verdict["runs"] == [RUN]
    for check in verdict["checks"]:
        assert set(check) == {"name", "group", "status", "value", "warn", "fail", "detail"}
        assert check["status"] in ("ok", "warn", "fail") and isinstance(check["value"], float | int)
    assert {p["data_type"] for p in verdict["products"]} == {"FT1", "EXTENDEDFT1", "LS1", "FT2"}
    assert all(len(p["old"]["sha256"]) == 64 and p["new"]["version"] == 2 for p in verdict["products"])
    html = (out / "report.html").read_text()
    assert "REJECT" in html and "events/removed" in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert "dist_energy.png" in images and "gti.png" in images and "livetime.png" in images
    for name in images:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(images) == len(verdict["files"]["plots"])


def test_bad_requests_give_one_line_and_exit_3(v001, sqlite_url, tmp_path, capsys):
    _register(sqlite_url, v001, 1)
    out = str(tmp_path / "r")
    assert (
        main(["validate", "--runs", str(RUN), "--old-version", "1", "--new-version", "7", "--out", out]) == 3
    )
    assert "no EXTENDEDFT1 version 7 in the data catalog (catalogued: 1)" in capsys.readouterr().out
    assert main(["validate", "--runs", str(RUN), "--out", out]) == 3  # nothing older than v001
    assert "no EXTENDEDFT1 version older than 1" in capsys.readouterr().out
    assert main(["validate", "--runs", "x12", "--out", out]) == 3
    bad = tmp_path / "bad.toml"
    bad.write_text("[counts]\nwarm = 0.1\n")
    assert main(["validate", "--runs", str(RUN), "--old-version", "1", "--new-version", "1", "--out", out,
                 "--config", str(bad)]) == 3  # fmt: skip
    assert f"{bad}: [counts] unknown key 'warm'" in capsys.readouterr().out


def test_an_unreachable_database_gives_one_line(tmp_path, capsys):
    url = "postgresql+psycopg://fermi:secret@127.0.0.1:9/none"  # nothing listens on port 9
    argv = [
        "validate",
        "--runs",
        str(RUN),
        "--db-url",
        url,
        "--home",
        str(tmp_path),
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 3
    captured = capsys.readouterr()
    assert (
        "fermi-l1 validate: database postgresql+psycopg://fermi:***@127.0.0.1:9/none unreachable"
        in captured.err
    )
    assert "Traceback" not in captured.err + captured.out and "secret" not in captured.err


def test_a_product_changed_after_registration_is_refused(v001, sqlite_url, tmp_path, capsys):
    v002, _ = _make_v002(v001, tmp_path / "v002")
    _register(sqlite_url, v001, 1)
    _register(sqlite_url, v002, 2)
    with open(v002["FT2"], "r+b") as fh:  # corrupt the catalogued file in place
        fh.seek(2880 + 100)
        fh.write(b"\0")
    out = str(tmp_path / "r")
    assert (
        main(["validate", "--runs", str(RUN), "--old-version", "1", "--new-version", "2", "--out", out]) == 3
    )
    line = capsys.readouterr().out.strip()
    assert "differs from the catalog's" in line and v002["FT2"].name in line and "\n" not in line


def test_config_default_is_documented_and_overridable(tmp_path):
    default = load_config()
    assert default.events_product == "EXTENDEDFT1" and "ENERGY" in default.columns
    assert default.changed.fail is None and default.removed.fail is not None
    user = tmp_path / "u.toml"
    user.write_text('[gti]\nfail = 0.5\nwarn = "off"\n')
    cfg = load_config(user)
    assert (cfg.gti.warn, cfg.gti.fail) == (None, 0.5) and cfg.counts == default.counts
    for text, message in (("[nope]\n", "unknown table [nope]"), ("[gti]\nfail = -1\n", "must be a number >= 0"),
                          ("[gti]\nfail = true\n", "wrong type"), ("x = [", "not valid TOML")):  # fmt: skip
        user.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(user)


def test_ks_statistic_and_pvalue():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 400), rng.normal(0.3, 1, 300)
    res = ks_2samp(a, b)
    scipy_stats = pytest.importorskip("scipy.stats")
    ref = scipy_stats.ks_2samp(a, b, method="asymp")
    assert res.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=0.1)
    same = ks_2samp(a, a.copy())
    assert (same.statistic, same.pvalue) == (0.0, 1.0)
    assert ks_2samp(np.array([]), b).statistic == 1.0
    assert ks_2samp(np.array([1.0, np.nan]), np.array([1.0])).statistic == 0.0


def test_gti_subtraction():
    a = Gti(np.array([0.0, 10.0, 20.0]), np.array([5.0, 15.0, 30.0]))
    b = Gti(np.array([2.0, 10.0, 25.0]), np.array([3.0, 15.0, 40.0]))
    left = subtract(a, b)
    assert left.start.tolist() == [0.0, 3.0, 20.0] and left.stop.tolist() == [2.0, 5.0, 25.0]
    assert subtract(b, a).start.tolist() == [30.0] and subtract(b, a).stop.tolist() == [40.0]
    assert subtract(a, a).ontime == 0.0
    assert len(subtract(a, b)) == 3 and subtract(Gti.empty(), a).ontime == 0.0


def test_selection_refuses_unknown_versions(v001, sqlite_url):
    _register(sqlite_url, v001, 1)
    with session(sqlite_url) as s, pytest.raises(SelectionError, match="no EXTENDEDFT1 product"):
        fixed_versions(s, [RUN + 1], 1, "EXTENDEDFT1")


def test_campaign_sides_and_the_fermi_l1_command(v001, sqlite_url, tmp_path, quick, monkeypatch, capsys):
    import fermi_l1.campaigns
    from fermi_l1.cli import main as fermi_l1_main

    _register(sqlite_url, v001, 1)
    v002, _ = _make_v002(v001, tmp_path / "v002")  # the same events under v002 names
    _register(sqlite_url, v002, 2)
    made = {"7": {RUN: 2}, "6": {RUN: 1}}
    monkeypatch.setattr(fermi_l1.campaigns, "versions_of", lambda s, c: made[str(c)])
    out = tmp_path / "r"
    assert fermi_l1_main(["validate", "--new-campaign", "7", "--out", str(out), "--config", str(quick)]) == 0
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["new"] == {"label": "campaign 7", "versions": {str(RUN): 2}}
    assert verdict["old"] == {"label": "v001", "versions": {str(RUN): 1}}  # what campaign 7 superseded
    assert verdict["identical"] and verdict["verdict"] == "accept"
    xp = next(p for p in verdict["products"] if p["data_type"] == "EXTENDEDFT1")
    assert xp["old"]["sha256"] != xp["new"]["sha256"]  # rewritten file, same events: no difference
    cmd = [
        "validate",
        "--old-campaign",
        "6",
        "--new-campaign",
        "7",
        "--out",
        str(out),
        "--config",
        str(quick),
    ]
    assert fermi_l1_main(cmd) == 0
    assert "campaign 6 -> campaign 7, 1 run(s): no difference; verdict accept" in capsys.readouterr().out
    assert fermi_l1_main(["validate", "--old-campaign", "6", "--old-version", "1", "--out", str(out)]) == 3
    assert "not both" in capsys.readouterr().out
