"""Small synthetic deliveries for tests, examples and benchmarks (not a simulator).

Datagrams carry a real format-1 datagram header (``docs/formats/telemetry.md`` §4.2) followed by
filler bytes standing for events; fermi-latsim writes the physically meaningful content.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fermi_ingest.ccsds.constants import SCID_FERMI
from fermi_ingest.ccsds.encode import PacketColumns, concatenate, encode_packets, segment_datagrams
from fermi_ingest.datagram_header import DATAGRAM_HEADER_DTYPE, DATAGRAM_IDENTITY
from fermi_ingest.manifest import Manifest, write_manifest

_HEADER = DATAGRAM_HEADER_DTYPE


def datagram(
    run: int, seq: int, crate: int, body: bytes, first: bool, last: bool, ground_id: int = 0xBEEF
) -> bytes:
    """Return one datagram: a format-1 header (32 bytes) then ``body`` (length a multiple of 4)."""
    h = np.zeros(1, dtype=_HEADER)
    h["identity"] = DATAGRAM_IDENTITY
    h["length"] = 32 + len(body)
    h["run"] = run
    h["ground_id"] = ground_id
    h["mcd"] = seq & 0xFFFFF
    h["open_action"], h["open_reason"] = (0, 0) if first else (2, 4)
    h["close_action"], h["close_reason"] = (0, 3) if last else (3, 4)
    h["crate"] = crate
    h["version"] = 1
    return h.tobytes() + body


def event_stream(
    apid: int,
    run: int,
    n_datagrams: int,
    t0: float,
    cadence: float = 1.0,
    first_count: int = 0,
    body_bytes: int = 5000,
    seed: int = 0,
) -> PacketColumns:
    """Packets of ``n_datagrams`` datagrams of one run on one APID (datagram ``k`` at ``t0 + k·cadence``)."""
    rng = np.random.default_rng(seed)
    crate = apid - 956
    dgms = [
        datagram(
            run,
            k,
            crate,
            rng.integers(0, 256, body_bytes // 4 * 4, dtype=np.uint8).tobytes(),
            k == 0,
            k == n_datagrams - 1,
        )
        for k in range(n_datagrams)
    ]
    t = t0 + cadence * np.arange(n_datagrams)
    sec = np.floor(t).astype(np.int64)
    usec = np.round((t - sec) * 1e6).astype(np.int64).clip(0, 999_999)
    return segment_datagrams(apid, dgms, sec=sec, usec=usec, first_count=first_count)


def spacecraft_stream(t0: float, n: int, first_count: int = 0, apid: int = 1020) -> PacketColumns:
    """``n`` attitude/orbit records (104-byte payloads, §5) one second apart."""
    records = []
    for k in range(n):
        rec = np.zeros(104, dtype=np.uint8)
        rec[0], rec[1] = 1, 1
        rec[4:8] = np.frombuffer(np.array([int(t0) + k], dtype=">u4").tobytes(), dtype=np.uint8)
        rec[16:48] = np.frombuffer(np.array([0.0, 0.0, 0.0, 1.0], dtype=">f8").tobytes(), dtype=np.uint8)
        records.append(rec.tobytes())
    return segment_datagrams(apid, records, sec=int(t0) + np.arange(n), first_count=first_count)


def interleave(parts: Sequence[PacketColumns]) -> PacketColumns:
    """Packets of ``parts`` in time order (stable: each APID keeps its order)."""
    cols = concatenate(parts)
    return cols.take(np.argsort(cols.sec * 1_000_000 + cols.usec, kind="stable"))


def write_delivery(
    directory: str | os.PathLike[str],
    delivery_id: str,
    files: Sequence[PacketColumns | bytes | np.ndarray],
    scid: int = SCID_FERMI,
) -> Manifest:
    """Write packet files ``<delivery_id>_<nnn>.pkt`` (columns are encoded) and the manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for i, content in enumerate(files):
        name = f"{delivery_id}_{i:03d}.pkt"
        data = (
            encode_packets(content)
            if isinstance(content, PacketColumns)
            else np.asarray(bytearray(content) if isinstance(content, bytes) else content, dtype=np.uint8)
        )
        (directory / name).write_bytes(np.asarray(data, dtype=np.uint8).tobytes())
        names.append(name)
    return write_manifest(directory, delivery_id, names, scid=scid)
