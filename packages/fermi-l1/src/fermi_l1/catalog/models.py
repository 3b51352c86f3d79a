"""Tables of the data catalog (declared on the shared database base of fermi-core).

* :class:`Dataset` (``l1_catalog_dataset``) -- one registered product file: one version of one
  logical dataset, with its checksum, provenance, processing version, the version it supersedes
  and the events the run lost;
* :class:`RunVersion` (``l1_run_version``) -- one version of a run's products as planned: which
  halfpipe revision it is made from, why, its inputs (the plan), the campaign that asked for it;
* :class:`Campaign` (``l1_campaign``) -- a reprocessing campaign: who, why, software, runs, state.

The version scheme is described in ``docs/lifecycle/versions.md``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fermi_core.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Dataset(Base):
    """One registered product file (one version of one logical dataset).

    ``proc_ver`` is the processing version of the file name (None in rows registered before it
    was recorded: the kind's default); ``supersedes`` the version of the same logical dataset
    this one replaces (None for the first); ``lost_events`` the events the run lost in missing
    datagrams when it was completed at its deadline (0 when complete, None when not known).
    """

    __tablename__ = "l1_catalog_dataset"
    __table_args__ = (UniqueConstraint("logical_path", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    logical_path: Mapped[str] = mapped_column(String(512), index=True)
    file_path: Mapped[str] = mapped_column(String(1024))
    data_type: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    met_start: Mapped[float] = mapped_column(Float)
    met_stop: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))
    creator: Mapped[str] = mapped_column(String(128))
    provenance: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    proc_ver: Mapped[int | None] = mapped_column(Integer, nullable=True)
    supersedes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lost_events: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Campaign(Base):
    """A reprocessing campaign (``fermi-l1 reprocess``).

    ``selection`` is the JSON of how its runs were chosen (``{"runs": [...]}``, ``{"met_min":
    ..., "met_max": ...}`` or ``{"all": true}``), ``software`` the JSON ``{distribution:
    version}`` installed when it was made, ``processing_date`` the ``DATE`` of its products (so a
    resumed campaign writes the bytes an uninterrupted one would). ``state``: ``running`` until
    every version it asked for is made, then ``done`` (or ``failed``, with ``outcome``).
    """

    __tablename__ = "l1_campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    selection: Mapped[str] = mapped_column(Text)
    processing_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    processing_date: Mapped[str] = mapped_column(String(19))
    software: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RunVersion(Base):
    """One version of one run's products, as planned before it is made.

    ``plan`` is the JSON of its inputs (run span, merged files and spacecraft files with their
    SHA-256, home-relative paths), fixed when the version is planned so that the version is
    always made from the same files; ``halfpipe_revision``, ``completion`` and ``lost_events``
    are what the halfpipe said of the run then (:class:`fermi_halfpipe.published.RetiredRun`).
    """

    __tablename__ = "l1_run_version"
    __table_args__ = (UniqueConstraint("run", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run: Mapped[int] = mapped_column(BigInteger, index=True)
    version: Mapped[int] = mapped_column(Integer)
    proc_ver: Mapped[int] = mapped_column(Integer)
    halfpipe_revision: Mapped[int] = mapped_column(Integer)
    completion: Mapped[str] = mapped_column(String(16))
    lost_events: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("l1_campaign.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
