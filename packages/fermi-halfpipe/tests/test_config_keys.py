"""Configuration keys: the version-2 datagram key block, the mission-planning table, the run check."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_halfpipe import models as M
from fermi_halfpipe.datagram import DatagramContext, decode_datagrams, encode_datagram
from fermi_halfpipe.errors import HalfpipeError
from fermi_halfpipe.format import UNKNOWN_KEY
from fermi_halfpipe.keys import ConfigKeys, format_key
from fermi_halfpipe.options import ENV_PLANNING_TABLE, HalfpipeOptions
from fermi_halfpipe.planning import DEFAULT_TABLE, check_keys, load_table
from fermi_halfpipe.policy import accept_run, settle_runs
from fermi_halfpipe.published import retired_runs, run_states, state_counts
from fermi_halfpipe.states import utcnow
from fermi_halfpipe.stitch import run_status
from fermi_halfpipe.synthetic import make_events, make_run
from fermi_halfpipe.testing import deliver

A, B = 956, 957
RUN = 700_000_000  # MET of the synthetic runs (2023)


def _planned() -> ConfigKeys:
    return load_table().expected(RUN)


def _decode(dgms: list[bytes], engine: str):
    buf = np.frombuffer(b"".join(dgms), np.uint8)
    lens = np.array([len(d) for d in dgms], np.int64)
    return decode_datagrams(buf, np.cumsum(lens) - lens, lens, np.full(len(dgms), A), engine=engine)


@pytest.mark.parametrize("engine", ["numba", "reference"])
def test_a_version_2_datagram_carries_the_keys_and_the_same_events(engine):
    records, _, header = make_events(np.random.default_rng(1), 4, t0=RUN)
    keys = ConfigKeys(0x12, 0x345, 0xABCDEF01)
    v1 = encode_datagram(DatagramContext(run=RUN, crate=0), 0, records, 4, 0, 0)
    v2 = encode_datagram(DatagramContext(run=RUN, crate=0, keys=keys), 1, records, 4, 0, 0)
    assert len(v2) == len(v1) + 16 and v2[27] == 2 and v1[27] == 1
    dec = _decode([v1, v2], engine)
    assert dec.problems == []
    assert dec.datagrams["version"].tolist() == [1, 2]
    assert dec.datagrams["moot_key"].tolist() == [UNKNOWN_KEY, 0xABCDEF01]
    assert dec.datagrams["hw_key"].tolist() == [UNKNOWN_KEY, 0x12]
    assert dec.datagrams["sw_key"].tolist() == [UNKNOWN_KEY, 0x345]
    gem = dec.events["gem_seq"].astype(np.int64)
    assert gem.tolist() == header["gem_seq"].astype(np.int64).tolist() * 2
    # a version-2 datagram cut inside its key block is truncated, not misread
    cut = bytearray(v2[:40])
    cut[4:8] = (40).to_bytes(4, "big")
    (p,) = _decode([bytes(cut)], engine).problems
    assert "shorter than its header" in p.reason and p.offset == 32


def test_keys_are_unsigned_32_bit_and_print_as_hex():
    with pytest.raises(ValueError, match="moot_key"):
        ConfigKeys(1, 2, 1 << 32)
    assert format_key(0xC8E) == "0x00000C8E" and format_key(UNKNOWN_KEY) == "UNKNOWN"
    assert ConfigKeys.of({"moot_key": 5}) == ConfigKeys(UNKNOWN_KEY, UNKNOWN_KEY, 5)


def test_the_shipped_planning_table_gives_the_keys_in_force(tmp_path):
    table = load_table()
    assert table.path == str(DEFAULT_TABLE) and len(table.changes) >= 2
    first, second = table.changes[:2]
    assert table.expected(first.start_met - 1) is None
    assert table.expected(first.start_met) == first.keys
    assert table.expected(second.start_met - 0.5) == first.keys
    assert check_keys(table, RUN, _planned()) is None
    bad = ConfigKeys(_planned().hw_key, _planned().sw_key, _planned().moot_key + 1)
    why = check_keys(table, RUN, bad)
    assert (
        f"moot_key {format_key(bad.moot_key)} in the data, {format_key(_planned().moot_key)} planned" in why
    )
    assert "hw_key" not in why and DEFAULT_TABLE.name in why
    assert "no planned configuration" in check_keys(table, int(first.start_met) - 10, first.keys)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('format = "other"\nformat_version = 1\n', "not a mission-planning table"),
        ('format = "fermi-lat-config-plan"\nformat_version = 1\n', "no \\[\\[change\\]\\] entry"),
        (
            'format = "fermi-lat-config-plan"\nformat_version = 1\n[[change]]\nstart = "2010-01-01T00:00:00"\n'
            "hw_key = 1\nsw_key = -2\nmoot_key = 3\n",
            "change 1 .*sw_key -2 is not an unsigned 32-bit integer",
        ),
        (
            'format = "fermi-lat-config-plan"\nformat_version = 1\n'
            '[[change]]\nstart = "2010-01-02T00:00:00"\nhw_key = 1\nsw_key = 2\nmoot_key = 3\n'
            '[[change]]\nstart = "2010-01-01T00:00:00"\nhw_key = 1\nsw_key = 2\nmoot_key = 4\n',
            "change 2 .* does not start after change 1",
        ),
        ('format = "fermi-lat-config-plan"\nformat_version = 1\n[[change]]\nstart = "soon"\n', "bad start"),
        ("format = [", "cannot read"),
    ],
)
def test_a_bad_planning_table_is_one_line_naming_the_file(tmp_path, body, message):
    path = tmp_path / "plan.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(HalfpipeError, match=message) as err:
        load_table(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(HalfpipeError, match="cannot read"):
        load_table(tmp_path / "missing.toml")


def test_a_run_with_the_planned_keys_completes_with_them(db_url):
    site = Site.from_env()
    run = make_run(np.random.default_rng(2), 30, run=RUN, keys=_planned())
    deliver("230401001", [run.packets(A), run.packets(B)])
    with session_scope(site.db_url) as s:
        (rr,) = retired_runs(s, site)
        (st,) = run_states(s)
    assert rr.completion == "complete" and rr.config_keys == _planned().as_dict() == st.config_keys


def test_a_run_without_keys_is_recorded_unknown_and_not_held(db_url):
    site = Site.from_env()
    run = make_run(np.random.default_rng(2), 30, run=RUN)  # format version 1
    deliver("230401001", [run.packets(A), run.packets(B)])
    with session_scope(site.db_url) as s:
        (rr,) = retired_runs(s, site)
    assert rr.config_keys == dict.fromkeys(("hw_key", "sw_key", "moot_key"), UNKNOWN_KEY)


def test_a_bad_moot_key_holds_the_run_until_accepted(db_url):
    site = Site.from_env()
    p = _planned()
    bad = ConfigKeys(p.hw_key, p.sw_key, p.moot_key + 7)
    run = make_run(np.random.default_rng(5), 40, run=RUN, keys=bad)
    deliver("230401001", [run.packets(A), run.packets(B)])
    (r,) = run_status(RUN)
    assert r["state"] == "mismatch" and r["delivered"] == 0 and r["held_back"] == 40
    assert format_key(bad.moot_key) in r["reason"] and format_key(p.moot_key) in r["reason"]
    assert r["config_keys"] == bad.as_dict()
    assert settle_runs(site, now=utcnow() + timedelta(days=2)) == []  # no deadline applies
    with session_scope(site.db_url) as s:
        assert state_counts(s)["mismatch"] == 1 and retired_runs(s, site) == []
        (st,) = run_states(s, states=["mismatch"])
        assert st.config_keys == bad.as_dict() and "in the data" in st.reason
    rep = accept_run(site, RUN, reason="MOOT key changed before the table", who="ops")
    assert rep["state"] == "accepted" and "held for its configuration keys" in rep["reason"]
    with session_scope(site.db_url) as s:
        (rr,) = retired_runs(s, site)
    assert rr.completion == "accepted" and sum(f.n_events for f in rr.files) == 40
    assert rr.config_keys == bad.as_dict()


def test_the_planning_table_in_use_is_configurable(db_url, tmp_path, monkeypatch):
    p = _planned()
    bad = ConfigKeys(p.hw_key, p.sw_key, p.moot_key + 7)
    table = tmp_path / "plan.toml"
    table.write_text(
        'format = "fermi-lat-config-plan"\nformat_version = 1\n[[change]]\nstart = "2020-01-01T00:00:00"\n'
        f"hw_key = {bad.hw_key}\nsw_key = {bad.sw_key}\nmoot_key = {bad.moot_key}\ncomment = 'test'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(ENV_PLANNING_TABLE, str(table))
    assert HalfpipeOptions.from_env().planning_table == str(table)
    run = make_run(np.random.default_rng(5), 20, run=RUN, keys=bad)
    deliver("230401001", [run.packets(A), run.packets(B)])
    assert run_status(RUN)[0]["state"] == "complete"


def test_datagrams_of_one_run_with_two_configurations_hold_it(db_url):
    p = _planned()
    other = ConfigKeys(p.hw_key + 1, p.sw_key, p.moot_key)
    run = make_run(np.random.default_rng(6), 30, run=RUN, keys={A: p, B: other})
    deliver("230401001", [run.packets(A), run.packets(B)])
    (r,) = run_status(RUN)
    assert r["state"] == "mismatch" and "two configurations" in r["reason"]
    with session_scope(Site.from_env().db_url) as s:
        reasons = s.scalars(select(M.HalfpipeProblem.reason)).all()
    assert any("differ from the run's keys" in x and format_key(other.hw_key) in x for x in reasons)
