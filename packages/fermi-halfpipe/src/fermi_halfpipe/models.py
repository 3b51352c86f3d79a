"""Tables of fermi-halfpipe, on the shared declarative base of :mod:`fermi_core.db`.

Cross-delivery state lives here, never in directory listings (telemetry.md §1.10 item 5): every
stored datagram, fragment, delivered span, output file and held-back group is a row naming its
file and byte range. Portable SQL only (SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fermi_core.db import Base
from fermi_halfpipe.format import UNKNOWN_KEY

#: Run status values (stored). An ``open`` run is published as ``held`` or ``overdue``
#: (:mod:`fermi_halfpipe.published`; docs/lifecycle/completion-policy.md).
OPEN = "open"  # still receiving data
COMPLETE = "complete"  # every expected EPU start..stop with contiguous datagrams: retired
INCOMPLETE = "incomplete"  # completed at the deadline, loss counted, or force-completed: retired
REJECTED = "rejected"  # EPU rule violated (reason recorded): nothing merged
ACCEPTED = "accepted"  # a rejected or mismatched run an operator accepted (who and why recorded): retired
#: configuration keys differ from the mission-planning table (reason names both): nothing merged
MISMATCH = "mismatch"


class HalfpipeLock(Base):
    """One row per lock name; on SQLite updating it first serialises merge transactions."""

    __tablename__ = "halfpipe_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), default="")


class HalfpipeRun(Base):
    """A run (id = MET of its start) and its merge status."""

    __tablename__ = "halfpipe_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: 0 while never retired; 1 at the first retirement, +1 each time late data changed its files
    revision: Mapped[int] = mapped_column(Integer, default=0)
    #: events in the missing datagrams, counted when retired (and again at each revision)
    lost_events: Mapped[int] = mapped_column(BigInteger, default=0)
    #: wall time (UTC) of the last merge that brought the run new datagrams
    last_data_utc: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: ``halfpipe_delivery.id`` of that merge (later deliveries count towards the deadline)
    last_data_delivery: Mapped[int] = mapped_column(Integer, default=0)
    #: the deadline in force: ``last_data_utc`` + deadline hours, and the deliveries allowed
    deadline_utc: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deadline_deliveries: Mapped[int] = mapped_column(Integer, default=3)
    ground_id: Mapped[int] = mapped_column(BigInteger, default=0)
    n_delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    n_held: Mapped[int] = mapped_column(BigInteger, default=0)
    n_late: Mapped[int] = mapped_column(BigInteger, default=0)
    n_duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    lock_owner: Mapped[str] = mapped_column(String(128), default="")
    retired_by: Mapped[str] = mapped_column(String(64), default="")
    #: configuration keys its datagrams carry (docs/formats/telemetry.md §4.2.1); UNKNOWN_KEY
    #: (0xFFFFFFFF) while none was seen or the datagrams carry none (format version 1)
    hw_key: Mapped[int] = mapped_column(BigInteger, default=UNKNOWN_KEY)
    sw_key: Mapped[int] = mapped_column(BigInteger, default=UNKNOWN_KEY)
    moot_key: Mapped[int] = mapped_column(BigInteger, default=UNKNOWN_KEY)


class HalfpipeDelivery(Base):
    """A delivery merged by the halfpipe (``done`` only after its transaction committed)."""

    __tablename__ = "halfpipe_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    summary_path: Mapped[str] = mapped_column(String(1024))
    summary_sha256: Mapped[str] = mapped_column(String(64))


class HalfpipeSpacecraftFile(Base):
    """The spacecraft (attitude/orbit) sample file extracted from one delivery, for L1's FT2."""

    __tablename__ = "halfpipe_spacecraft_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1024))  # home-relative
    sha256: Mapped[str] = mapped_column(String(64))
    n_samples: Mapped[int] = mapped_column(BigInteger)
    met_start: Mapped[float] = mapped_column(Float)
    met_stop: Mapped[float] = mapped_column(Float)


class HalfpipeDatagram(Base):
    """The stored copy of one datagram of a run (first sighting; later ones are duplicates)."""

    __tablename__ = "halfpipe_datagram"
    __table_args__ = (UniqueConstraint("run_id", "apid", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, index=True)
    apid: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)  # unrolled datagram sequence
    delivery_id: Mapped[str] = mapped_column(String(64))
    store_path: Mapped[str] = mapped_column(String(1024))
    store_offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    met: Mapped[float] = mapped_column(Float)
    crate: Mapped[int] = mapped_column(Integer)
    open_action: Mapped[int] = mapped_column(Integer)
    close_action: Mapped[int] = mapped_column(Integer)
    n_events: Mapped[int] = mapped_column(Integer)
    n_decoded: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)  # 0 good, else the decoder's error code
    first_gem: Mapped[int] = mapped_column(BigInteger)  # -1 when the datagram has no event
    last_gem: Mapped[int] = mapped_column(BigInteger)
    done: Mapped[bool] = mapped_column(Boolean, default=False)  # every event delivered


class HalfpipeSighting(Base):
    """Datagram intervals seen per run, EPU and delivery (duplicates included)."""

    __tablename__ = "halfpipe_sighting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, index=True)
    apid: Mapped[int] = mapped_column(Integer)
    delivery_id: Mapped[str] = mapped_column(String(64))
    seq_first: Mapped[int] = mapped_column(BigInteger)
    seq_last: Mapped[int] = mapped_column(BigInteger)
    n_duplicates: Mapped[int] = mapped_column(Integer)


class HalfpipeFragment(Base):
    """Packets of a datagram cut by a delivery boundary, kept until the rest arrives."""

    __tablename__ = "halfpipe_fragment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    apid: Mapped[int] = mapped_column(Integer)
    first_count: Mapped[int] = mapped_column(Integer)
    last_count: Mapped[int] = mapped_column(Integer)
    first_flag: Mapped[int] = mapped_column(Integer)
    last_flag: Mapped[int] = mapped_column(Integer)
    sec: Mapped[int] = mapped_column(BigInteger)
    usec: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(1024))
    source_offset: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | joined
    joined_by: Mapped[str] = mapped_column(String(64), default="")


class HalfpipeSpan(Base):
    """A delivered GEM-sequence span of a run (inclusive bounds); spans never overlap."""

    __tablename__ = "halfpipe_span"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, index=True)
    lo: Mapped[int] = mapped_column(BigInteger)
    hi: Mapped[int] = mapped_column(BigInteger)
    delivery_id: Mapped[str] = mapped_column(String(64))
    n_events: Mapped[int] = mapped_column(BigInteger)


class HalfpipeFile(Base):
    """A merged event file for L1 (Arrow IPC) with its sequence range and checksum."""

    __tablename__ = "halfpipe_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, index=True)
    delivery_id: Mapped[str] = mapped_column(String(64))
    first_gem: Mapped[int] = mapped_column(BigInteger)
    last_gem: Mapped[int] = mapped_column(BigInteger)
    n_events: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    #: the run revision that wrote it (1: written before or at the first retirement)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: 0 while current; else the run revision whose files replace it (the file stays on disk)
    replaced_in: Mapped[int] = mapped_column(Integer, default=0)


class HalfpipeHeld(Base):
    """Events held back (not mergeable yet) or arrived late, grouped by where they are stored."""

    __tablename__ = "halfpipe_held"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, index=True)
    apid: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # held | late
    store_path: Mapped[str] = mapped_column(String(1024))
    seq_first: Mapped[int] = mapped_column(BigInteger)  # datagram range
    seq_last: Mapped[int] = mapped_column(BigInteger)
    first_gem: Mapped[int] = mapped_column(BigInteger)
    last_gem: Mapped[int] = mapped_column(BigInteger)
    n_events: Mapped[int] = mapped_column(BigInteger)


class HalfpipeProblem(Base):
    """A malformed datagram or a conflict found while merging (where, what, how many events)."""

    __tablename__ = "halfpipe_problem"
    __table_args__ = (UniqueConstraint("delivery_id", "source", "source_offset", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    apid: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(1024))
    source_offset: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    events_lost: Mapped[int] = mapped_column(BigInteger)
