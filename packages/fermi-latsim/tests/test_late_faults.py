"""The late-data faults move exactly the packets they say, and nothing else changes."""

import json

import pyarrow.parquet as pq
import pytest

from fermi_ingest.ccsds import decode_file
from fermi_latsim.late import LATE_PLACEMENTS
from fermi_latsim.simulate import SimulationConfig, simulate

HOURS = 0.1


def _packets(root, did):
    """(file name, apid, seq_count, sec, usec) of every packet of delivery ``did``, in arrival order."""
    d = root / "deliveries" / did
    rows = []
    for f in json.loads((d / "manifest.json").read_text())["files"]:
        t = decode_file(d / f["name"])
        assert t.bad_bytes == 0
        rows += [(f["name"], *k) for k in zip(t.apid, t.seq_count, t.sec, t.usec, strict=True)]
    return rows


def _keys(rows):
    return [tuple(int(x) for x in r[1:]) for r in rows]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    summary = simulate(root, SimulationConfig(hours=HOURS, seed=5))
    return root, summary


@pytest.mark.parametrize("fault", sorted(LATE_PLACEMENTS))
def test_late_packets_move_one_block_from_delivery_1(fault, clean, tmp_path):
    root0, s0 = clean
    s = simulate(tmp_path, SimulationConfig(hours=HOURS, seed=5, faults=(fault,)))
    info = s["faults"][fault]
    ids0 = [d["delivery_id"] for d in s0["deliveries"]]
    ids = [d["delivery_id"] for d in s["deliveries"]]
    first = _keys(_packets(root0, ids0[0]))
    block = [k for k in first if k[0] == 956 and k[1] in set(info["seq_count"])]
    assert info["packets"] == len(block) >= 3 and info["from"] == ids0[0]
    seq = [k[1] for k in block]
    assert seq == list(range(seq[0], seq[0] + len(seq)))  # consecutive
    # delivery 1 lost exactly the block, from its middle (packets of APID 956 on both sides)
    assert _keys(_packets(tmp_path, ids[0])) == [k for k in first if k not in block]
    ep = [k for k in first if k[0] == 956]
    assert ep[0] not in block and ep[-1] not in block
    target = ids0[min(2, len(ids0) - 1)]
    normal = [k for k in _keys(_packets(root0, target))]
    if fault == "late-packets-own-delivery":
        late = ids[ids.index(target) + 1]
        assert info["to"] == late and s["deliveries"][ids.index(late)]["late"] is True
        assert _keys(_packets(tmp_path, late)) == block
        assert _keys(_packets(tmp_path, target)) == normal
        assert len(ids) == len(ids0) + 1
    else:
        assert info["to"] == target and ids == ids0
        got = _packets(tmp_path, target)
        keys = _keys(got)
        assert s["deliveries"][ids.index(target)]["late_packets"] == len(block)
        if fault == "late-packets-start":
            assert keys == block + normal
        elif fault == "late-packets-end":
            assert keys == normal + block
        elif fault == "late-packets-middle":
            at = keys.index(block[0])
            assert 0 < at < len(normal) and keys == normal[:at] + block + normal[at:]
        else:  # an extra file
            assert [r for r in got if r[0] not in s0["deliveries"][ids0.index(target)]["files"]] == [
                r for r in got if tuple(int(x) for x in r[1:]) in block
            ]
            assert keys == normal + block
    # every other delivery is untouched, and the truth still has every event
    for did in ids0:
        if did not in (ids0[0], target):
            assert _keys(_packets(tmp_path, did)) == _keys(_packets(root0, did))
    t0 = pq.read_table(root0 / "truth" / "events.parquet")
    assert pq.read_table(tmp_path / "truth" / "events.parquet").equals(t0)


def test_dropped_packets_redelivered_as_a_final_delivery(clean, tmp_path):
    root0, s0 = clean
    dropped = simulate(tmp_path / "d", SimulationConfig(hours=HOURS, seed=5, faults=("dropped-packets",)))
    s = simulate(
        tmp_path / "r", SimulationConfig(hours=HOURS, seed=5, faults=("dropped-packets-redelivered",))
    )
    ids = [d["delivery_id"] for d in s["deliveries"]]
    assert ids[:-1] == [d["delivery_id"] for d in dropped["deliveries"]]
    for did in ids[:-1]:  # the same deliveries as the dropped-packets fault
        assert _keys(_packets(tmp_path / "r", did)) == _keys(_packets(tmp_path / "d", did))
    info = s["faults"]["dropped-packets-redelivered"]
    last = s["deliveries"][-1]
    assert last["late"] is True and info["to"] == last["delivery_id"] == ids[-1]
    drop = dropped["faults"]["dropped-packets"]
    late = _keys(_packets(tmp_path / "r", ids[-1]))
    assert info["packets"] == drop["packets"] == len(late) > 0
    assert [(a, q) for a, q, _, _ in late] == list(zip(drop["apid"], drop["seq_count"], strict=True))
    # all the packets of the clean run arrive once
    everything = sorted(k for did in ids for k in _keys(_packets(tmp_path / "r", did)))
    assert everything == sorted(k for d in s0["deliveries"] for k in _keys(_packets(root0, d["delivery_id"])))


def test_one_late_fault_at_a_time(tmp_path):
    with pytest.raises(ValueError, match="at most one"):
        simulate(tmp_path, SimulationConfig(hours=HOURS, faults=("late-packets-start", "late-packets-end")))
