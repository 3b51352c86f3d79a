"""Gaps between deliveries are found whatever the order the deliveries arrive in, and filled later.

Three deliveries 0, 1, 2 continue one another on every APID; they arrive in each of the 6 orders.
After each arrival the open gaps are exactly the holes between the deliveries ingested so far
(the packets of delivery 1 when 0 and 2 are in, and it is not); when 1 arrives it fills them.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_ingest.ccsds.decode import decode_file
from fermi_ingest.models import Delivery, Gap

ORDERS = list(itertools.permutations(range(3)))


def _stream_ends(path) -> dict[int, tuple[int, int, int]]:
    """Per APID of a delivery folder: (number of packets, first count, last count), read from its files."""
    tables = [decode_file(p, None) for p in sorted(path.glob("*.pkt"))]
    apid = np.concatenate([t.apid for t in tables])
    seq = np.concatenate([t.seq_count for t in tables])
    out = {}
    for a in np.unique(apid):
        s = seq[apid == a]
        out[int(a)] = (int(s.size), int(s[0]), int(s[-1]))
    return out


def _open_gaps() -> set[tuple]:
    with session_scope() as s:
        ids = dict(s.execute(select(Delivery.id, Delivery.delivery_id)).all())
        return {
            (g.apid, g.kind, g.missing, g.seq_before, g.seq_after, ids[g.delivery_before_pk], ids[g.delivery_after_pk])
            for g in s.scalars(select(Gap).where(Gap.status == "open"))
        }  # fmt: skip


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(map(str, o)) for o in ORDERS])
def test_every_arrival_order_finds_the_gap_between_deliveries_and_fills_it(db_url, tmp_path, workers, order):
    paths = workers.write_deliveries(tmp_path / "in", 3)
    ends = [_stream_ends(p) for p in paths]
    names = [f"2304010{i:02d}" for i in range(3)]
    assert all(e.keys() == ends[0].keys() for e in ends) and len(ends[0]) == 3
    arrived: set[int] = set()
    for i in order:
        assert workers.ingest(str(paths[i]))["again"] is False
        arrived.add(i)
        # the one possible hole: delivery 1 missing between 0 and 2
        expected = set()
        if {0, 2} <= arrived and 1 not in arrived:
            expected = {
                (apid, "sequence", ends[1][apid][0], ends[0][apid][2], ends[2][apid][1], names[0], names[2])
                for apid in ends[0]
            }
        assert _open_gaps() == expected, f"after deliveries {sorted(arrived)} arrived in order {order}"
    with session_scope() as s:
        ids = dict(s.execute(select(Delivery.id, Delivery.delivery_id)).all())
        gaps = s.scalars(select(Gap)).all()
        found = sorted((g.apid, g.status, ids[g.found_by_pk], ids.get(g.filled_by_pk)) for g in gaps)
    if (
        order.index(1) == 2
    ):  # 1 came last: the gap was found by whichever of 0, 2 came second, then filled by 1
        assert found == [(apid, "filled", names[order[1]], names[1]) for apid in sorted(ends[0])]
    else:
        assert found == []
