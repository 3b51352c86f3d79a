"""A delivery merged piece by piece gives exactly what its merge in one piece gives (issue 18).

The merge reads a delivery in pieces of ``piece_bytes`` (:attr:`HalfpipeOptions.piece_bytes`),
carries a datagram cut by a piece boundary into the next piece, spools the datagram bytes and
stores and merges them in batches and GEM windows of the same size. Whatever the size (down to
a piece per packet, pieces ending inside datagrams, windows smaller than one datagram), the
summaries (merged files with their SHA-256, problems, fragments), the datagram rows, the held
and late rows and the store files are the same: across piece seams and delivery seams alike.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sqlalchemy import select

from fermi_core.db import session_scope
from fermi_halfpipe import models as M
from fermi_halfpipe.synthetic import make_run
from fermi_halfpipe.testing import deliver, part
from fermi_ingest.ccsds.constants import SEQ_FIRST


@pytest.fixture(scope="module")
def deliveries():
    """Three deliveries of one run: cut inside datagrams, with a repeat, a hole filled later, a bad datagram."""
    run = make_run(np.random.default_rng(21), 3000, events_per_datagram=40)
    a, b = (run.packets(apid) for apid in run.apids)
    ca, cb = len(a) // 2 + 1, len(b) // 3 + 2  # inside a datagram (segmented: several packets each)
    a2 = part(a, ca, len(a))
    k = int(np.flatnonzero(a2.seq_flags == SEQ_FIRST)[3])
    a2.payload[int(a2.payload_length[:k].sum())] ^= 0xFF  # a corrupt identity word
    return [
        ("230501001", [part(a, 0, ca), part(b, 0, cb), part(a, 10, 30)]),  # a repeat of packets 10-29
        ("230501002", [part(b, cb + 40, 2 * cb), a2]),  # b's cb .. cb+39 come late
        ("230501003", [part(b, cb, cb + 40), part(b, 2 * cb, len(b))]),
    ]


def _merge_all(deliveries, home, monkeypatch, piece_bytes):
    monkeypatch.setenv("FERMI_HOME", str(home))
    monkeypatch.setenv("FERMI_DB_URL", f"sqlite:///{home / 'fermi.db'}")
    monkeypatch.setenv("FERMI_HALFPIPE_PIECE_BYTES", str(piece_bytes))
    summaries = [deliver(d, parts) for d, parts in deliveries]
    with session_scope(f"sqlite:///{home / 'fermi.db'}") as s:
        tables = {
            model.__tablename__: [
                tuple(getattr(r, c.name) for c in model.__table__.columns if not c.name.endswith("_utc"))
                for r in s.scalars(select(model).order_by(model.id))
            ]
            for model in (
                M.HalfpipeDatagram,
                M.HalfpipeHeld,
                M.HalfpipeFile,
                M.HalfpipeProblem,
                M.HalfpipeFragment,
            )
        }
    files = {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((home / "halfpipe" / "store").rglob("*.dgm"))
    }
    return summaries, tables, files


def test_any_piece_size_merges_the_same(deliveries, tmp_path, monkeypatch):
    whole = _merge_all(deliveries, tmp_path / "whole", monkeypatch, 10**9)
    summaries, tables, files = whole
    assert tables["halfpipe_datagram"] and files
    assert summaries[0]["fragments"]["kept"] > 0 and summaries[1]["fragments"]["joined"] > 0
    assert any("identity" in p for p in summaries[1]["problems"])
    assert sum(len(r["files"]) for s in summaries for r in s["runs"]) > 0
    for piece_bytes in (1, 9000):  # a piece per packet; pieces and windows of about 2 datagrams
        assert _merge_all(deliveries, tmp_path / f"p{piece_bytes}", monkeypatch, piece_bytes) == whole, (
            piece_bytes
        )
