"""Configuration keys through the commands, on SQLite and PostgreSQL (issue 14).

The simulator writes each run's hardware, software and MOOT keys into its datagrams, taken from
the shipped mission-planning table; the ``bad-config-key`` fault gives the middle run a MOOT key
the table does not plan. The clean run matches and gets products with the keys in the FT1/FT2
headers and the catalog provenance; the faulty run is held in state ``mismatch`` with a reason
naming both keys, L1 leaves it alone, until an operator accepts it; then it gets products too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from astropy.io import fits

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_halfpipe.cli import main as halfpipe
from fermi_halfpipe.keys import format_key
from fermi_halfpipe.published import retired_runs, run_states, state_counts
from fermi_ingest.cli import main as ingest
from fermi_l1.catalog.api import query
from fermi_l1.cli import main as l1
from fermi_l1.db import session as l1_session
from fermi_latsim.simulate import SimulationConfig, simulate

from .conftest import _capture

HOURS = 0.1
KEYWORDS = {"hw_key": "HW_KEY", "sw_key": "SW_KEY", "moot_key": "MOOT_KEY"}


def _status() -> dict[int, dict]:
    rc, out = _capture(halfpipe, ["status", "--json"])
    assert rc == 0, out
    return {r["run_id"]: r for r in json.loads(out)}


def _pipeline() -> None:
    rc, out = _capture(l1, ["pipeline", "--from-halfpipe", "--no-progress", "--workers", "1"])
    assert rc == 0, out


def _products(home: Path, run: int) -> list[Path]:
    return sorted((home / "l1" / "products" / f"r{run:010d}").glob("*.fit"))


def _assert_keys_in_products(home: Path, db_url: str, run: int, keys: dict[str, int]) -> None:
    paths = _products(home, run)
    kinds = {p.name.split("_")[1] for p in paths}
    assert {"ph", "ev", "xp", "pt", "pt1s"} <= kinds, paths
    for p in paths:
        with fits.open(p) as hdul:
            heads = [hdul[0].header] + [h.header for h in hdul if h.name == "EVENTS"]
            for h in heads:
                assert {KEYWORDS[k]: h[KEYWORDS[k]] for k in keys} == {
                    KEYWORDS[k]: v for k, v in keys.items()
                }
            assert "configuration key" in hdul[0].header.comments["MOOT_KEY"]
    with l1_session(db_url) as s:
        products = {"FT1", "EXTENDEDFT1", "LS1", "FT2", "FT2SECONDS"}
        rows = [r for r in query(s, run=run) if r.data_type in products]
        assert len(rows) == 5 and all(json.loads(r.provenance)["config_keys"] == keys for r in rows), rows


def test_clean_run_matches_and_a_bad_moot_key_holds_the_run_until_accepted(db_url):
    home = Path(os.environ["FERMI_HOME"])  # fresh, set by db_url
    summary = simulate(home / "latsim", SimulationConfig(hours=HOURS, seed=5, faults=("bad-config-key",)))
    fault = summary["faults"]["bad-config-key"]
    bad, planned = fault["config_keys"], fault["planned"]
    assert bad["moot_key"] != planned["moot_key"] and len(summary["runs"]) >= 2
    held = fault["run"]
    clean = next(r for r in summary["runs"] if r["run"] != held)
    assert clean["config_keys"] == planned  # the clean run flies the planned configuration
    for d in summary["deliveries"]:
        assert _capture(ingest, ["ingest", str(home / "latsim" / "deliveries" / d["delivery_id"])])[0] == 0
        rc, out = _capture(halfpipe, ["merge", d["delivery_id"]])
        assert rc == 0, out

    st = _status()
    assert st[clean["run"]]["state"] == "complete" and st[clean["run"]]["config_keys"] == planned
    r = st[held]
    assert r["state"] == "mismatch" and r["config_keys"] == bad, r
    # the reason names the key in the data and the planned one
    assert f"moot_key {format_key(bad['moot_key'])} in the data" in r["reason"], r["reason"]
    assert f"{format_key(planned['moot_key'])} planned" in r["reason"], r["reason"]
    assert r["delivered"] == 0 and r["held_back"] > 0  # nothing merged, nothing dropped
    with session_scope(Site.from_env().db_url) as s:
        assert state_counts(s)["mismatch"] == 1
        (m,) = run_states(s, states=["mismatch"])
        assert m.run_id == held and m.config_keys == bad
        assert held not in {x.run_id for x in retired_runs(s, Site.from_env())}
    # the deadline does not release it either
    rc, out = _capture(halfpipe, ["--deadline-hours", "0", "settle"])
    assert rc == 0 and _status()[held]["state"] == "mismatch", out

    _pipeline()
    _assert_keys_in_products(home, db_url, clean["run"], planned)
    assert _products(home, held) == []  # L1 leaves the mismatched run alone

    rc, out = _capture(
        halfpipe, ["accept", str(held), "--reason", "new MOOT key, table late", "--who", "ops"]
    )
    assert rc == 0 and f"run {held}: accepted" in out, out
    r = _status()[held]
    assert r["state"] == "accepted" and "held for its configuration keys" in r["reason"]
    assert r["delivered"] == next(x["events"] for x in summary["runs"] if x["run"] == held)
    _pipeline()
    _assert_keys_in_products(home, db_url, held, bad)
    rc, out = _capture(l1, ["catalog", "verify"])
    assert rc == 0, out
