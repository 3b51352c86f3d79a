"""Spacecraft attitude/orbit records (APID 1020, ``docs/formats/telemetry.md`` §5): encode, decode, files.

Records are decoded for all packets at once (one structured-array view); the samples of a
delivery are written as one Arrow IPC file and read back by :func:`read_samples`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from fermi_core.atomic import atomic_write_bytes
from fermi_core.checksum import sha256_bytes
from fermi_halfpipe import format as F
from fermi_halfpipe.format import SPACECRAFT_RECORD_DTYPE

RECORD_LENGTH = SPACECRAFT_RECORD_DTYPE.itemsize
RECORD_TYPE_ATT_ORB = 1
RECORD_VERSION = 1
FORMAT = "fermi-halfpipe-spacecraft"

#: Scalar columns of a sample file, with their types.
SCALARS: dict[str, pa.DataType] = {
    "met": pa.float64(),
    "sec": pa.uint32(),
    "usec": pa.uint32(),
    "flags": pa.uint32(),
    "in_saa": pa.bool_(),
    "attitude_invalid": pa.bool_(),
    "orbit_invalid": pa.bool_(),
    "sc_mode": pa.uint8(),
    "lat_mode": pa.uint8(),
    "lat_config": pa.uint8(),
    "data_qual": pa.uint8(),
}
VECTORS = {"quaternion": 4, "position": 3, "velocity": 3}


@dataclass(frozen=True)
class RecordProblem:
    """A spacecraft record that could not be decoded: where and why."""

    source: str
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: byte {self.offset}: {self.reason}"


def encode_records(samples: dict[str, np.ndarray]) -> list[bytes]:
    """Return one 104-byte payload per sample (keys as :func:`decode_records` returns)."""
    n = len(samples["sec"])
    rec = np.zeros(n, dtype=SPACECRAFT_RECORD_DTYPE)
    rec["record_type"], rec["version"] = RECORD_TYPE_ATT_ORB, RECORD_VERSION
    for name in ("sec", "usec", "flags", "quaternion", "position", "velocity", "sc_mode", "lat_mode"):
        rec[name] = samples[name]
    for name in ("lat_config", "data_qual"):
        if name in samples:
            rec[name] = samples[name]
    raw = rec.tobytes()
    return [raw[i * RECORD_LENGTH : (i + 1) * RECORD_LENGTH] for i in range(n)]


def decode_records(
    buffer: np.ndarray, offset: np.ndarray, length: np.ndarray, source: str = "<memory>", source_offset=None
) -> tuple[dict[str, np.ndarray], list[RecordProblem]]:
    """Decode the record payloads at ``offset`` (each ``length`` bytes) of ``buffer``.

    Payloads of the wrong length, type or version are reported (not decoded). Samples are
    returned sorted by time; an exact repeat of a sample time is dropped and reported.
    """
    buf = np.asarray(buffer, dtype=np.uint8)
    off = np.asarray(offset, dtype=np.int64)
    ln = np.asarray(length, dtype=np.int64)
    where = off if source_offset is None else np.asarray(source_offset, dtype=np.int64)
    problems = [
        RecordProblem(source, int(where[i]), f"record of {ln[i]} bytes, expected {RECORD_LENGTH}")
        for i in np.flatnonzero(ln != RECORD_LENGTH)
    ]
    ok = np.flatnonzero(ln == RECORD_LENGTH)
    rec = (
        np.ascontiguousarray(buf[off[ok][:, None] + np.arange(RECORD_LENGTH)])
        .view(SPACECRAFT_RECORD_DTYPE)
        .reshape(-1)
    )
    bad = (
        (rec["record_type"] != RECORD_TYPE_ATT_ORB)
        | (rec["version"] != RECORD_VERSION)
        | (rec["usec"] >= 1_000_000)
    )
    for i in np.flatnonzero(bad):
        problems.append(
            RecordProblem(
                source,
                int(where[ok[i]]),
                f"record type {rec['record_type'][i]} version {rec['version'][i]} (usec {rec['usec'][i]}) not readable",
            )
        )
    rec = rec[~bad]
    keep_where = where[ok][~bad]
    t = rec["sec"].astype(np.int64) * 1_000_000 + rec["usec"].astype(np.int64)
    order = np.argsort(t, kind="stable")
    rec, t, keep_where = rec[order], t[order], keep_where[order]
    dup = np.zeros(t.size, dtype=bool)
    dup[1:] = t[1:] == t[:-1]
    for i in np.flatnonzero(dup):
        problems.append(RecordProblem(source, int(keep_where[i]), f"repeated sample at MET {t[i] / 1e6:.6f}"))
    rec = rec[~dup]
    flags = rec["flags"].astype(np.uint32)
    samples = {
        "met": rec["sec"].astype(np.float64) + rec["usec"] * 1e-6,
        "sec": rec["sec"].astype(np.uint32),
        "usec": rec["usec"].astype(np.uint32),
        "flags": flags,
        "in_saa": (flags & F.FLAG_IN_SAA) != 0,
        "attitude_invalid": (flags & F.FLAG_ATTITUDE_INVALID) != 0,
        "orbit_invalid": (flags & F.FLAG_ORBIT_INVALID) != 0,
        "quaternion": rec["quaternion"].astype(np.float64),
        "position": rec["position"].astype(np.float64),
        "velocity": rec["velocity"].astype(np.float64),
        "sc_mode": rec["sc_mode"].astype(np.uint8),
        "lat_mode": rec["lat_mode"].astype(np.uint8),
        "lat_config": rec["lat_config"].astype(np.uint8),
        "data_qual": rec["data_qual"].astype(np.uint8),
    }
    return samples, problems


def encode_samples(samples: dict[str, np.ndarray], delivery_id: str) -> bytes:
    """Arrow IPC bytes of a sample table (deterministic)."""
    fields, arrays = [], []
    for name, typ in SCALARS.items():
        fields.append(pa.field(name, typ))
        arrays.append(pa.array(np.asarray(samples[name]), type=typ))
    for name, width in VECTORS.items():
        values = np.ascontiguousarray(samples[name], dtype=np.float64).reshape(-1)
        fields.append(pa.field(name, pa.list_(pa.float64(), width)))
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(values), width))
    schema = pa.schema(fields, metadata={"format": FORMAT, "format_version": "1", "delivery_id": delivery_id})
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, schema) as writer:
        writer.write_batch(pa.record_batch(arrays, schema=schema))
    return sink.getvalue().to_pybytes()


def write_samples(path: str | os.PathLike[str], samples: dict[str, np.ndarray], delivery_id: str) -> str:
    """Write a sample file atomically; return its SHA-256."""
    data = encode_samples(samples, delivery_id)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def read_samples(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a sample file: ``met``, ``quaternion`` (n, 4; x, y, z, w), ``position`` (n, 3; m),
    ``velocity`` (n, 3; m/s), ``sc_mode``, ``lat_mode``, ``lat_config``, ``data_qual``, ``flags``,
    ``in_saa``, ``attitude_invalid``, ``orbit_invalid``, ``sec``, ``usec``."""
    with pa.memory_map(str(path), "r") as source:
        table = ipc.open_file(source).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a spacecraft sample file (format {meta.get('format')!r})")
    out = {name: table.column(name).to_numpy(zero_copy_only=False) for name in SCALARS}
    for name, width in VECTORS.items():
        col = table.column(name).combine_chunks()
        out[name] = col.flatten().to_numpy().reshape(-1, width)
    return out
