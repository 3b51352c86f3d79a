"""Ingest of one delivery: verify, archive, decode, find gaps, quarantine, chunk, register.

Order of work (each step is safe to redo; the database commit is the last step, so a crash
leaves either nothing registered or everything):

1. read and verify the manifest (names, sizes) — a mismatch refuses the delivery;
2. under an exclusive lock: a delivery id already registered with the same manifest is a no-op
   (its files' SHA-256 checked first), with a different manifest it is refused;
3. read each file once and check its SHA-256 against the manifest — a mismatch refuses the
   delivery before anything is written — then write those very bytes into
   ``$FERMI_HOME/archive/level0/<delivery>/`` atomically (each byte read, hashed and written once);
4. decode the bytes read (they are the archived bytes); malformed spans, duplicates and
   out-of-order packets are written byte-exact under ``$FERMI_HOME/quarantine/<delivery>/`` and registered;
5. per APID, sequence and time gaps within the delivery and against the deliveries ingested
   before it, on both sides in time (so any arrival order finds every gap); packets landing
   inside an open gap — a delivery of their own, or anywhere in a later delivery's files — are
   late data: they mark it filled (and the datagram gap of their run too), and the holes they
   leave are recorded as new gaps (:mod:`fermi_ingest.continuity`);
6. chunks (at most 20) with a JSON and an XML manifest each under ``$FERMI_HOME/chunks/<delivery>/``,
   a folder that appears whole (written aside, its files flushed together, then renamed);
7. one database transaction registers the delivery, files, per-APID spans, gaps, chunks and
   quarantined spans. Every input byte is accounted for: archived in a chunk or quarantined.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from fermi_core import logs
from fermi_core.atomic import atomic_directory, atomic_write_bytes, fsync_enabled
from fermi_core.db import session_scope
from fermi_core.site import Site
from fermi_ingest import chunker, continuity, gaps
from fermi_ingest.archive import exclusive_lock, remove_tree, write_verified
from fermi_ingest.ccsds.constants import DEFAULT_APIDS, DEFAULT_EVENT_APIDS, MAX_PACKET_LENGTH, SCID_FERMI
from fermi_ingest.ccsds.decode import PacketTable, decode_buffer
from fermi_ingest.datagram_header import MCD_OFFSET, RUN_OFFSET
from fermi_ingest.errors import DeliveryConflict, IngestError, ManifestError
from fermi_ingest.manifest import Manifest, read_verified, verify_delivery
from fermi_ingest.models import ApidSpan, Chunk, Delivery, DeliveryFile, Gap, QuarantinedSpan
from fermi_ingest.unpack import open_delivery


@dataclass
class IngestOptions:
    """Tunable parameters of an ingest (defaults follow ``docs/formats/telemetry.md``)."""

    apids: tuple[int, ...] = DEFAULT_APIDS
    event_apids: tuple[int, ...] = DEFAULT_EVENT_APIDS
    scid: int = SCID_FERMI
    max_packet_length: int = MAX_PACKET_LENGTH
    max_time_step: float = gaps.DEFAULT_MAX_TIME_STEP
    min_chunk_bytes: int = chunker.DEFAULT_MIN_CHUNK_BYTES
    target_chunks: int = chunker.TARGET_CHUNKS


@dataclass
class IngestResult:
    """What an ingest did."""

    delivery_id: str
    already_ingested: bool
    n_files: int = 0
    n_packets: int = 0
    n_bytes: int = 0
    quarantined: list[str] = field(default_factory=list)
    quarantined_bytes: int = 0
    gaps: list[str] = field(default_factory=list)
    filled_gaps: int = 0
    n_chunks: int = 0


def _slug(reason: str) -> str:
    return reason.replace(" ", "-")


def ingest(
    path: str | Path,
    options: IngestOptions | None = None,
    url: str | None = None,
    *,
    site: Site | None = None,
) -> IngestResult:
    """Ingest the delivery at ``path`` (a directory or a tar of one); see the module docstring.

    ``site`` is the data home and database (default :meth:`Site.from_env`, with ``url`` as its
    database when given). Paths recorded in the database and the chunk manifests are relative to
    the data home.

    Raises
    ------
    ManifestError
        The manifest does not match the files (the message names the file).
    DeliveryConflict
        The delivery id is registered with a different manifest.
    BadDeliveryInput
        A tar refused by the ``data`` filter, truncated or damaged, or a symbolic link pointing
        out of the delivery (:mod:`fermi_ingest.unpack`; the message names the file).
    """
    options = options or IngestOptions()
    site = site or Site.from_env(db_url=url)
    home = site.home
    home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=home))
    try:
        directory = open_delivery(Path(path), work)
        try:
            # sizes and names now; each file's SHA-256 as it is read for archiving (read once)
            manifest = verify_delivery(directory, scid=options.scid, checksums=False)
            with exclusive_lock(site.ingest_lock), session_scope(site.db_url) as session:
                if session.get_bind().dialect.name == "postgresql":  # serialise ingests across hosts
                    session.execute(text("SELECT pg_advisory_xact_lock(5115001)"))
                known = session.scalar(select(Delivery).where(Delivery.delivery_id == manifest.delivery_id))
                if known is not None:
                    if known.manifest_sha256 == manifest.sha256:
                        verify_delivery(directory, scid=options.scid)  # a damaged copy is refused
                        return IngestResult(
                            manifest.delivery_id, True, known.n_files, known.n_packets, known.n_bytes
                        )
                    raise DeliveryConflict(
                        f"delivery {manifest.delivery_id}: already ingested with a different manifest "
                        f"(sha256 {known.manifest_sha256[:12]}…, now {manifest.sha256[:12]}…); refused"
                    )
                return _ingest_new(session, site, directory, manifest, options)
        except ManifestError as exc:
            if directory == Path(path):
                raise
            # name the archive and its member, not the scratch directory it was unpacked into
            raise ManifestError(str(exc).replace(f"{work}{os.sep}", f"{path}: member ")) from None
    finally:
        remove_tree(work)


def _ingest_new(
    session: Session, site: Site, directory: Path, manifest: Manifest, options: IngestOptions
) -> IngestResult:
    dl = manifest.delivery_id
    arch = site.archive_dir(dl)
    # one file at a time: read and hashed once, archived, decoded, then its bytes are let go (only
    # its packet columns are kept); a mismatch removes what this ingest archived, so it writes nothing
    tables: list[PacketTable] = []
    words: list[tuple[np.ndarray, np.ndarray]] = []  # per file: run word and MCD of each good packet
    written: list[Path] = []
    try:
        for f in manifest.files:
            buf = read_verified(directory, f)
            if write_verified(arch / f.name, buf, f.sha256):
                written.append(arch / f.name)
            t = decode_buffer(buf, f"{dl}/{f.name}", options.apids, options.max_packet_length)
            words.append((_payload_u4(t, RUN_OFFSET), _payload_u4(t, MCD_OFFSET)))
            tables.append(dataclasses.replace(t, buffer=np.empty(0, np.uint8)))
            del buf, t
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise

    delivery = Delivery(
        delivery_id=dl,
        manifest_sha256=manifest.sha256,
        scid=manifest.scid,
        state="ingested",
        archive_dir=site.relative(arch),
        n_files=len(manifest.files),
        n_bytes=sum(f.size for f in manifest.files),
        n_packets=0,
        n_quarantined=0,
        quarantined_bytes=0,
    )
    session.add(delivery)
    files = []
    for i, f in enumerate(manifest.files):
        row = DeliveryFile(
            delivery=delivery,
            position=i,
            name=f.name,
            size=f.size,
            sha256=f.sha256,
            archive_path=site.relative(arch / f.name),
            n_packets=0,
            good_bytes=0,
            quarantined_bytes=0,
        )
        files.append(row)
        session.add(row)
    session.flush()

    # all good packets of the delivery as columns, in arrival order
    fidx = np.concatenate([np.full(len(t), i, dtype=np.int64) for i, t in enumerate(tables)])
    cat = {
        name: np.concatenate([getattr(t, name) for t in tables])
        for name in ("offset", "length", "apid", "seq_flags", "seq_count", "sec", "usec")
    }
    time = cat["sec"] + cat["usec"] * 1e-6
    status = np.zeros(fidx.size, dtype=np.int8)
    segment = np.full(fidx.size, -1, dtype=np.int64)
    result = IngestResult(dl, False, n_files=len(tables), n_bytes=delivery.n_bytes)
    gap_rows: list[Gap] = []
    for apid in np.unique(cat["apid"]):
        idx = np.flatnonzero(cat["apid"] == apid)
        stream = continuity.stream_status(
            session,
            site,
            delivery,
            int(apid),
            cat["seq_count"][idx],
            cat["sec"][idx],
            cat["usec"][idx],
            apids=options.apids,
            max_packet_length=options.max_packet_length,
            max_time_step=options.max_time_step,
        )
        status[idx], segment[idx] = stream.status, stream.segment
        gap_rows += stream.gap_rows
        result.gaps += stream.lines
        result.filled_gaps += stream.filled

    quarantine = site.quarantine / dl
    q_rows: list[QuarantinedSpan] = []
    for i, t in enumerate(tables):
        for span in t.malformed:
            q_rows.append(
                _quarantine(site, quarantine, files[i], delivery, span.offset, span.length, span.reason, None)
            )
    for j in np.flatnonzero(status != gaps.ACCEPTED):
        reason = gaps.REJECT_REASONS[int(status[j])]
        q_rows.append(
            _quarantine(
                site,
                quarantine,
                files[fidx[j]],
                delivery,
                int(cat["offset"][j]),
                int(cat["length"][j]),
                reason,
                int(cat["apid"][j]),
            )
        )
    session.add_all(q_rows)
    session.add_all(gap_rows)

    ok = status == gaps.ACCEPTED
    for i, row in enumerate(files):
        mine = ok & (fidx == i)
        row.n_packets = int(mine.sum())
        row.good_bytes = int(cat["length"][mine].sum())
        row.quarantined_bytes = sum(q.length for q in q_rows if q.file_pk == row.id)
        if row.good_bytes + row.quarantined_bytes != row.size:  # pragma: no cover - an internal invariant
            raise IngestError(
                f"{dl}/{row.name}: {row.size} bytes but {row.good_bytes} good + {row.quarantined_bytes} quarantined"
            )
        # one span per APID and segment: a file holding late packets has a span where they belong
        for apid, seg in sorted(set(zip(cat["apid"][mine].tolist(), segment[mine].tolist(), strict=True))):
            sel = np.flatnonzero(mine & (cat["apid"] == apid) & (segment == seg))
            sel = sel[np.argsort(time[sel], kind="stable")]
            session.add(
                ApidSpan(
                    delivery_pk=delivery.id,
                    file_pk=row.id,
                    apid=int(apid),
                    n_packets=int(sel.size),
                    first_seq=int(cat["seq_count"][sel[0]]),
                    last_seq=int(cat["seq_count"][sel[-1]]),
                    met_start=float(time[sel[0]]),
                    met_stop=float(time[sel[-1]]),
                    first_offset=int(cat["offset"][sel[0]]),
                    last_offset=int(cat["offset"][sel[-1]]),
                )
            )

    keep = np.flatnonzero(ok)
    pk = chunker.DeliveryPackets(
        file_index=fidx[keep],
        offset=cat["offset"][keep],
        length=cat["length"][keep],
        apid=cat["apid"][keep],
        seq_flags=cat["seq_flags"][keep],
        seq_count=cat["seq_count"][keep],
        time=time[keep],
        run_word=np.concatenate([w[0] for w in words])[keep],
    )
    mcd = np.concatenate([w[1] for w in words])[keep]
    starts = continuity.datagram_starts(
        pk.apid, pk.seq_flags, pk.run_word, mcd, pk.time, segment[keep], options.event_apids
    )
    n_filled, remaining = continuity.fill_datagram_gaps(session, delivery, starts)
    result.filled_gaps += n_filled
    for g in remaining:
        session.add(g)
        result.gaps.append(
            f"APID {g.apid}: datagram gap still open after late data, {g.missing} datagrams missing, "
            f"datagram seq {g.seq_before}->{g.seq_after}, MET {g.met_before:.6f}-{g.met_after:.6f}"
        )
    for apid, run, g in continuity.datagram_gaps(starts):
        session.add(
            Gap(
                apid=apid,
                kind=g.kind,
                missing=g.missing,
                seq_before=g.seq_before,
                seq_after=g.seq_after,
                met_before=g.met_before,
                met_after=g.met_after,
                delivery_before_pk=delivery.id,
                delivery_after_pk=delivery.id,
                found_by_pk=delivery.id,
                status="open",
            )
        )
        result.gaps.append(
            f"APID {apid} run {run}: datagram gap, {g.missing} datagrams "
            f"missing, datagram seq {g.seq_before}->{g.seq_after}, MET {g.met_before:.6f}-{g.met_after:.6f}"
        )
    plans = chunker.plan_chunks(pk, options.event_apids, options.min_chunk_bytes, options.target_chunks)
    if plans:
        with _chunk_folder(site.chunk_dir(dl)) as folder:
            for plan in plans:
                session.add(_write_chunk(site, delivery, manifest, plan, pk, folder, site.chunk_dir(dl)))

    delivery.n_packets = int(keep.size)
    delivery.n_quarantined = len(q_rows)
    delivery.quarantined_bytes = sum(q.length for q in q_rows)
    delivery.met_start = float(time[keep].min()) if keep.size else None
    delivery.met_stop = float(time[keep].max()) if keep.size else None
    result.n_packets = delivery.n_packets
    result.quarantined = [
        f"{dl}/{files_by_pk(files, q.file_pk)}: byte offset {q.offset}: {q.reason} ({q.length} bytes)"
        for q in q_rows
    ]
    result.quarantined_bytes = delivery.quarantined_bytes
    result.n_chunks = len(plans)
    log = logs.context_logger(__name__, delivery=dl)
    for line in result.quarantined:
        log.warning("quarantined %s", line)
    for line in result.gaps:
        log.warning("gap %s", line)
    log.info(
        "ingested %d files, %d packets, %d chunks, %d spans quarantined",
        result.n_files, result.n_packets, result.n_chunks, len(result.quarantined),
    )  # fmt: skip
    return result


def files_by_pk(files: list[DeliveryFile], pk: int) -> str:
    """Name of the file row with primary key ``pk``."""
    return next(f.name for f in files if f.id == pk)


def _payload_u4(table: PacketTable, at: int) -> np.ndarray:
    """Payload bytes ``at .. at+3`` of each good packet of ``table`` as a big-endian u4 (−1 when shorter)."""
    out = np.full(len(table), -1, dtype=np.int64)
    sel = np.flatnonzero(table.length >= 14 + at + 4)
    if sel.size:
        pos = table.offset[sel] + 14 + at
        b = [table.buffer[pos + k].astype(np.int64) for k in range(4)]
        out[sel] = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    return out


def _quarantine(
    site: Site,
    directory: Path,
    file_row: DeliveryFile,
    delivery: Delivery,
    offset: int,
    length: int,
    reason: str,
    apid: int | None,
) -> QuarantinedSpan:
    """Copy bytes ``offset .. offset+length`` of the file (from its archived, verified copy) aside; its row."""
    dest = directory / f"{file_row.name}@{offset:012d}.{_slug(reason)}.bin"
    with open(site.resolve(file_row.archive_path), "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:  # pragma: no cover - the archived file was just written and verified
        raise IngestError(f"{file_row.archive_path}: shorter than its quarantined span at byte {offset}")
    atomic_write_bytes(dest, data)
    return QuarantinedSpan(
        delivery_pk=delivery.id,
        file_pk=file_row.id,
        offset=offset,
        length=length,
        reason=reason,
        apid=apid,
        path=site.relative(dest),
    )


@contextlib.contextmanager
def _chunk_folder(final: Path) -> Iterator[Path]:
    """A scratch folder for a delivery's chunk manifests, renamed to ``final`` when the block succeeds.

    Its files are flushed together before the rename (one journal commit for all of them, not
    two per file). A ``final`` already there was left by an ingest of this delivery that did not
    commit (the delivery is not registered: nothing refers to it) and is replaced.
    """
    if final.exists():
        remove_tree(final)
    with atomic_directory(final) as work:
        yield work
        if fsync_enabled():
            for path in sorted(work.iterdir()):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


def _write_chunk(
    site: Site,
    delivery: Delivery,
    manifest: Manifest,
    plan: chunker.ChunkPlan,
    pk: chunker.DeliveryPackets,
    directory: Path,
    final: Path,
) -> Chunk:
    """Write the JSON and XML manifests of one chunk into ``directory`` (renamed ``final`` later)."""
    ranges = chunker.byte_ranges(pk, plan.packets)
    by_file: dict[str, list[list[int]]] = {}
    for fi, start, end in ranges:
        by_file.setdefault(manifest.files[fi].name, []).append([start, end])
    n_bytes = int(pk.length[plan.packets].sum())
    doc = {
        "format": "fermi-lat-chunk",
        "format_version": 1,
        "delivery_id": manifest.delivery_id,
        "chunk": plan.number,
        "run_id": plan.run_id,
        "apids": list(plan.apids),
        "met_start": plan.met_start,
        "met_stop": plan.met_stop,
        "n_packets": int(plan.packets.size),
        "n_datagrams": plan.n_datagrams,
        "n_bytes": n_bytes,
        "archive": delivery.archive_dir,
        "files": [{"name": name, "ranges": r} for name, r in by_file.items()],
    }
    stem = f"{manifest.delivery_id}-{plan.number:05d}"
    json_path = final / f"chunk-{stem}.json"
    (directory / json_path.name).write_bytes((json.dumps(doc, indent=1) + "\n").encode())
    root = ET.Element("retdef", delivery=manifest.delivery_id, chunk=str(plan.number))
    ET.SubElement(root, "run", l0key=str(delivery.id), id="" if plan.run_id is None else str(plan.run_id))
    ET.SubElement(root, "arch").text = delivery.archive_dir
    ET.SubElement(root, "apids").text = " ".join(str(a) for a in plan.apids)
    ET.SubElement(root, "span", met_start=repr(plan.met_start), met_stop=repr(plan.met_stop))
    for name, r in by_file.items():
        fe = ET.SubElement(root, "file", name=name)
        for start, end in r:
            ET.SubElement(fe, "range", start=str(start), end=str(end))
    ET.indent(root)
    xml_path = final / f"RetDef-{stem}.xml"
    (directory / xml_path.name).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return Chunk(
        delivery=delivery,
        number=plan.number,
        run_id=plan.run_id,
        apids=",".join(str(a) for a in plan.apids),
        met_start=plan.met_start,
        met_stop=plan.met_stop,
        n_packets=int(plan.packets.size),
        n_datagrams=plan.n_datagrams,
        n_bytes=n_bytes,
        json_path=site.relative(json_path),
        xml_path=site.relative(xml_path),
    )


def read_chunk(json_path: str | Path, site: Site | None = None) -> np.ndarray:
    """Return the packet bytes of a chunk (its ranges, concatenated; decode with ``decode_buffer``).

    The manifest names its archive folder relative to the data home: ``site``'s, or by default
    the home the manifest sits in (``<home>/chunks/<delivery>/``), so a copied home reads its own.
    """
    json_path = Path(json_path).resolve()
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    site = site or Site(json_path.parent.parent.parent)
    parts = []
    for entry in doc["files"]:
        data = np.fromfile(site.resolve(doc["archive"]) / entry["name"], dtype=np.uint8)
        parts.extend(data[start:end] for start, end in entry["ranges"])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint8)


def count_rows(session: Session) -> dict[str, int]:
    """Row count of every ingest table (used by the status command and the tests)."""
    return {
        m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0)
        for m in (Delivery, DeliveryFile, ApidSpan, Gap, Chunk, QuarantinedSpan)
    }
