"""isoc against the real fermi-ingest: a synthetic delivery ingested for real, then read and archived."""

from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy.orm import Session

from fermi_core.db import get_engine
from fermi_ingest import synthetic as sy
from fermi_ingest.ingest import ingest
from fermi_isoc import queries
from fermi_isoc.alarms import Context, Severity, evaluate, parse_alarms
from fermi_isoc.retention import check, migrate

RUN = 600_000_000


def _delivery(path, delivery_id):
    cols = sy.interleave(
        [
            sy.event_stream(956, RUN, 6, float(RUN), first_count=100, seed=1, body_bytes=800),
            sy.event_stream(957, RUN, 6, RUN + 0.3, first_count=5, seed=2, body_bytes=800),
            sy.spacecraft_stream(float(RUN), 6),
        ]
    )
    sy.write_delivery(path, delivery_id, [cols])


def test_ingested_delivery_is_listed_alarmed_on_and_archived(db, tmp_path):
    _delivery(tmp_path / "dl", "260101001")
    ingest(tmp_path / "dl", url=db.url)
    with Session(get_engine(db.url)) as s:
        (d,) = queries.deliveries(s)
        assert (d.delivery_id, d.n_files, d.n_chunks) == ("260101001", 1, 1)
        assert [c.run_id for c in queries.chunks_of(s, d.pk)] == [RUN]
        # the dead man's switch: fine now, firing when nothing else arrives for 13 hours
        spec = parse_alarms(
            '[[alarm]]\nname = "dms"\nquantity = "hours_since_last_delivery"\nalgorithm = "upper"\n'
            "warning = 6.0\nerror = 12.0\n"
        )
        now = datetime.now(timezone.utc)
        assert evaluate(spec, Context(s, now=now))[0].severity == Severity.OK
        assert evaluate(spec, Context(s, now=now + timedelta(hours=13)))[0].severity == Severity.ERROR
        # retention with the checksums ingest registered: 61 days later it moves to the archive area
        later = now + timedelta(days=61)
        tape = tmp_path / "tape"
        assert [f.kind for f in check(s, tape, now=later)] == ["overdue"]
        result = migrate(s, tape, now=later)
        s.commit()
        assert result.deleted == ["260101001"] and result.problems == []
        archived = sorted(p.name for p in (tape / "260101001").iterdir())
        assert archived == ["260101001_000.pkt"]
        assert np.fromfile(tape / "260101001" / "260101001_000.pkt", dtype=np.uint8).size > 0
        assert check(s, tape, now=later) == []
