"""Bad time intervals through the commands: flag, re-issue, gtmktime, unflag, the automatic check.

* An operator flags an interval (``fermi-l1 quality flag``); the next ``fermi-l1 pipeline`` pass
  re-issues the run it overlaps -- and only that run -- as version 2: both FT2 files with
  ``DATA_QUAL`` 0 in exactly the flagged rows (``LAT_CONFIG`` untouched), the FT1 files with the
  flagged time out of their GTIs; catalog and outbox carry v002 superseding v001. The shim's
  ``gtmktime`` with ``DATA_QUAL>0`` on v001's events and v002's FT2 removes exactly that interval
  (to the second). Un-flagging re-issues v003, equal to v001 but for the version and date
  keywords. ``fermi-l1 catalog verify`` passes after every step.
* A rate excursion (the simulator's ``rate-excursion`` fault when it exists, else the events of
  a few minutes tripled in the crumbs) is flagged by the pass itself with source ``auto``, and
  the next pass re-issues the run.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import create_engine, text

from fermi_halfpipe.cli import main as halfpipe
from fermi_ingest.cli import main as ingest
from fermi_l1.cli import main as l1
from fermi_l1.db import session
from fermi_l1.ft2.quality import flagged_span
from fermi_l1.quality.intervals import list_intervals
from fermi_latsim.simulate import FAULTS, SimulationConfig, simulate
from fermi_sciencetools_shim.io.ft1 import read_events, read_gti
from fermi_sciencetools_shim.io.ft2 import read_ft2
from fermi_sciencetools_shim.mktime.gtmktime import gtmktime

DATES = ["2024-05-01T12:00:00", "2024-05-02T12:00:00", "2024-05-03T12:00:00", "2024-05-04T12:00:00"]
#: keywords that differ between two versions of the same content
VERSION_KEYWORDS = {"DATE", "FILENAME", "VERSION", "CHECKSUM"}


def _run(fn, argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        rc = fn(argv)
    return int(rc or 0), buf.getvalue()


def _ok(fn, argv: list[str]) -> str:
    rc, out = _run(fn, argv)
    assert rc == 0, out
    return out


def _pipeline(site: list[str], date: str) -> str:
    return _ok(l1, [*site, "pipeline", "--from-halfpipe", "--no-progress", "--workers", "1",
                    "--processing-date", date])  # fmt: skip


def _chain(site: list[str], tmp: Path, hours: float, faults: tuple[str, ...] = ()) -> dict:
    summary = simulate(tmp / "latsim", SimulationConfig(hours=hours, seed=5, faults=faults))
    ids = [d["delivery_id"] for d in summary["deliveries"]]
    for did in ids:
        _ok(ingest, [*site, "ingest", str(tmp / "latsim" / "deliveries" / did)])
    for did in ids:
        _ok(halfpipe, [*site, "merge", did])
    _pipeline(site, DATES[0])
    _verify(site)
    return summary


def _verify(site: list[str]) -> None:
    rc, out = _run(l1, [*site, "catalog", "verify"])
    assert rc == 0 and " 0 problem(s)" in out, out


def _catalog(url: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT run, data_type, version, supersedes, file_path FROM l1_catalog_dataset "
                 "ORDER BY run, data_type, version")
        ).all()  # fmt: skip
    engine.dispose()
    return [tuple(r) for r in rows]


def _product(home: Path, tag: str, run: int, version: int) -> Path:
    found = sorted(
        (home / "l1" / "products" / f"r{run:010d}").glob(f"gll_{tag}_p*_r{run:010d}_v{version:03d}.fit")
    )
    assert len(found) == 1, found
    return found[0]


def _minus(gti, lo: float, hi: float) -> list[tuple[float, float]]:
    """The GTI intervals with ``[lo, hi]`` taken out."""
    out = []
    for a, b in zip(gti.start, gti.stop, strict=True):
        if a < lo:
            out.append((float(a), float(min(b, lo))))
        if b > hi:
            out.append((float(max(a, hi)), float(b)))
    return [(a, b) for a, b in out if b > a]


def _same_content(a: Path, b: Path) -> None:
    """Two product files equal in every HDU's data and header but for :data:`VERSION_KEYWORDS`."""
    with fits.open(a) as ha, fits.open(b) as hb:
        assert [h.name for h in ha] == [h.name for h in hb]
        for x, y in zip(ha, hb, strict=True):
            kx = {k: v for k, v in x.header.items() if k not in VERSION_KEYWORDS}
            ky = {k: v for k, v in y.header.items() if k not in VERSION_KEYWORDS}
            assert kx == ky, (a.name, x.name)
            if x.data is not None:
                assert x.data.tobytes() == y.data.tobytes(), (a.name, x.name)


def test_a_flagged_interval_reissues_ft2_and_ft1_and_unflagging_reissues_again(db_url, tmp_path):
    home = tmp_path / "home"
    site = ["--home", str(home), "--db-url", db_url]
    summary = _chain(site, tmp_path, 0.05)
    first = _catalog(db_url)
    run = int(max(summary["runs"], key=lambda r: r["stop"] - r["start"])["run"])
    rows = read_ft2(_product(home, "pt1s", run, 1))
    assert np.all(rows["DATA_QUAL"] == 1)
    lo, hi = float(rows["START"][40]), float(rows["START"][70])  # 30 whole 1 s rows

    out = _ok(l1, [*site, "quality", "flag", "--start", repr(lo), "--stop", repr(hi), "--reason",
                   "solar flare", "--who", "shifter"])  # fmt: skip
    iid = int(re.search(r"interval (\d+) recorded", out).group(1))
    _verify(site)
    assert "solar flare" in _ok(l1, [*site, "quality", "list"])
    _pipeline(site, DATES[1])
    _verify(site)
    second = _catalog(db_url)
    new = [x for x in second if x not in first]
    assert new and {x[0] for x in new} == {run}  # only the overlapped run is re-issued
    assert {(x[2], x[3]) for x in new} == {(2, 1)}  # as v002 superseding v001
    assert {"FT1", "EXTENDEDFT1", "LS1", "FT2", "FT2SECONDS"} <= {x[1] for x in new}
    manifest = json.loads((home / "outbox" / f"r{run:010d}_v002" / "manifest.json").read_text())
    assert manifest["supersedes"]["export"] == f"r{run:010d}_v001"

    for tag in ("pt1s", "pt"):  # both FT2 files flag exactly the interval; LAT_CONFIG untouched
        old, flagged = read_ft2(_product(home, tag, run, 1)), read_ft2(_product(home, tag, run, 2))
        assert flagged_span(flagged) == [(lo, hi)]
        assert set(np.unique(flagged["DATA_QUAL"])) == {0, 1}
        if tag == "pt1s":
            assert np.array_equal(old["LAT_CONFIG"], flagged["LAT_CONFIG"])
        assert np.array_equal(np.unique(old["LAT_CONFIG"]), np.unique(flagged["LAT_CONFIG"]))
    ft2_v2 = _product(home, "pt", run, 2)
    for tag in ("ph", "xp", "ev"):  # the FT1 GTIs follow DATA_QUAL
        g1, g2 = read_gti(_product(home, tag, run, 1)), read_gti(_product(home, tag, run, 2))
        assert list(zip(g2.start, g2.stop, strict=True)) == _minus(g1, lo, hi)
        t2 = read_events(_product(home, tag, run, 2), ["TIME"])[0]["TIME"]
        assert not np.any((t2 > lo) & (t2 < hi))
    # the science user's cut: gtmktime DATA_QUAL>0 with the new FT2 removes exactly the interval
    cut = tmp_path / "user_ft1.fits"
    result = gtmktime(ft2_v2, "DATA_QUAL>0 && LAT_CONFIG==1", False, _product(home, "ph", run, 1), cut)
    g1 = read_gti(_product(home, "ph", run, 1))
    assert list(zip(result.gti.start, result.gti.stop, strict=True)) == _minus(g1, lo, hi)
    assert abs(result.gti.ontime - (g1.ontime - (hi - lo))) < 1e-6
    t_user = read_events(cut, ["TIME"])[0]["TIME"]
    assert t_user.size and not np.any((t_user > lo) & (t_user < hi))

    _ok(l1, [*site, "quality", "unflag", str(iid), "--who", "shifter", "--reason", "no flare after all"])
    assert "no flare after all" in _ok(l1, [*site, "quality", "list", "--all"])
    _pipeline(site, DATES[2])
    _verify(site)
    third = _catalog(db_url)
    v3 = [x for x in third if x not in second]
    assert {x[0] for x in v3} == {run} and {(x[2], x[3]) for x in v3} == {(3, 2)}
    for tag in ("pt1s", "pt", "ph", "xp", "ev"):
        _same_content(_product(home, tag, run, 1), _product(home, tag, run, 3))
    manifest = json.loads((home / "outbox" / f"r{run:010d}_v003" / "manifest.json").read_text())
    assert manifest["supersedes"]["export"] == f"r{run:010d}_v002"

    # the whole run inside a flagged interval: v004 has no good time (no events, an empty GTI)
    span = read_ft2(_product(home, "pt1s", run, 3))
    _ok(l1, [*site, "quality", "flag", "--start", repr(float(span["START"][0]) - 5.0), "--stop",
             repr(float(span["STOP"][-1]) + 5.0), "--reason", "instrument anomaly", "--who", "shifter"])  # fmt: skip
    _pipeline(site, DATES[3])
    _verify(site)
    v4 = [x for x in _catalog(db_url) if x not in third]
    assert {x[0] for x in v4} == {run} and {(x[2], x[3]) for x in v4} == {(4, 3)}
    assert {"FT1", "EXTENDEDFT1", "LS1", "FT2", "FT2SECONDS"} <= {x[1] for x in v4}
    for tag in ("pt1s", "pt"):
        assert np.all(read_ft2(_product(home, tag, run, 4))["DATA_QUAL"] == 0)
    for tag in ("ph", "xp", "ev"):
        assert len(read_gti(_product(home, tag, run, 4))) == 0
        assert read_events(_product(home, tag, run, 4), ["TIME"])[0]["TIME"].size == 0
    assert (home / "outbox" / f"r{run:010d}_v004" / "manifest.json").is_file()


def _triple_events_in(monkeypatch, lo: float, hi: float) -> None:
    """Inject a rate excursion: the events of ``[lo, hi)`` three times over in the crumbs read by the run input."""
    import fermi_l1.pipeline.runinput as runinput

    real = runinput.read_merit

    def read_merit(path, *args, **kwargs):
        table = real(path, *args, **kwargs)
        t = np.asarray(table["TIME"])
        extra = np.flatnonzero((t >= lo) & (t < hi))
        if not extra.size:
            return table
        take = np.concatenate([np.arange(t.size), extra, extra])
        take = take[np.argsort(t[take], kind="stable")]
        return {k: np.asarray(v)[take] for k, v in table.items()}

    monkeypatch.setattr(runinput, "read_merit", read_merit)  # the forked pool workers see it too


def test_a_rate_excursion_is_flagged_automatically_and_reissued(db_url, tmp_path, monkeypatch):
    home = tmp_path / "home"
    site = ["--home", str(home), "--db-url", db_url]
    sim = simulate(tmp_path / "probe", SimulationConfig(hours=0.15, seed=5))
    run = max(sim["runs"], key=lambda r: r["stop"] - r["start"])
    if "rate-excursion" in FAULTS:
        faults: tuple[str, ...] = ("rate-excursion",)
    else:  # the simulator has no such fault yet: an excursion injected in the crumbs
        faults = ()
        _triple_events_in(monkeypatch, float(run["start"]) + 210.0, float(run["start"]) + 330.0)
    summary = _chain(site, tmp_path, 0.15, faults)
    if faults:
        truth = summary["faults"]["rate-excursion"]
        lo, hi, run_id = float(truth["start"]), float(truth["stop"]), None
    else:
        lo, hi, run_id = float(run["start"]) + 210.0, float(run["start"]) + 330.0, int(run["run"])
    with session(db_url) as s:
        auto = [i for i in list_intervals(s) if i.source == "auto"]
    assert len(auto) == 1, auto
    bti = auto[0]
    assert "rate excursion" in bti.reason and bti.detail["sigma"] > 8
    run_id = int(bti.detail["run"]) if run_id is None else run_id
    assert bti.detail["run"] == run_id
    # the flagged bins cover the excursion and at most one 30 s bin more on each side
    assert bti.start_met <= lo < bti.start_met + 30.0 and bti.stop_met - 30.0 < hi <= bti.stop_met, (
        bti,
        lo,
        hi,
    )
    out = _ok(l1, [*site, "quality", "list"])
    assert "auto" in out and "rate excursion" in out
    _pipeline(site, DATES[1])
    _verify(site)
    flagged = read_ft2(_product(home, "pt1s", run_id, 2))
    assert flagged_span(flagged) == [(bti.start_met, bti.stop_met)]
    with session(db_url) as s:  # the re-issued version does not flag anything again
        assert [i.id for i in list_intervals(s, active_only=False)] == [bti.id]
    _ok(l1, [*site, "quality", "check"])  # an explicit check of the latest products: idempotent
    with session(db_url) as s:
        assert [i.id for i in list_intervals(s, active_only=False)] == [bti.id]
