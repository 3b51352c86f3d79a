"""Merged event files for L1 (Arrow IPC, memory-mappable) and their public reader.

One file holds one contiguous delivered span of a run, events in GEM-sequence order. Columns:
``gem_seq`` (uint64), ``epu`` (uint8), ``apid`` (uint16), ``datagram_seq`` (uint32, unrolled),
``hw_seq`` (uint32, 17 bits), the event-header time fields of ``docs/formats/telemetry.md`` §4.3
(``elapsed``, ``livetime``, ``prescaled``, ``discarded``, ``deadzone``, ``trigger_ticks``,
``cur_tone_*``, ``prev_tone_*``), ``filter_status``, ``event_time`` (float64 MET) and ``record``
(large_binary: the event record bytes exactly as in the datagram, contributions included).
Schema metadata: ``run_id``, ``delivery_id``, ``format_version``.

L1 reads a file with :func:`read_merged` and decodes the records without Python loops through
:attr:`MergedEvents.records_buffer`, :attr:`MergedEvents.offsets` and :attr:`MergedEvents.lengths`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from fermi_core.atomic import atomic_output
from fermi_core.checksum import sha256_file, sha256_file_unchanged
from fermi_core.site import run_folder

FORMAT = "fermi-halfpipe-merged"
FORMAT_VERSION = 1

COLUMN_TYPES: dict[str, pa.DataType] = {
    "gem_seq": pa.uint64(),
    "epu": pa.uint8(),
    "apid": pa.uint16(),
    "datagram_seq": pa.uint32(),
    "hw_seq": pa.uint32(),
    "elapsed": pa.uint64(),
    "livetime": pa.uint64(),
    "prescaled": pa.uint64(),
    "discarded": pa.uint64(),
    "deadzone": pa.uint64(),
    "trigger_ticks": pa.uint32(),
    "cur_tone_sec": pa.uint32(),
    "cur_tone_ticks": pa.uint32(),
    "cur_tone_hacks": pa.uint16(),
    "cur_tone_flags": pa.uint8(),
    "cur_tone_flywheel": pa.uint8(),
    "prev_tone_sec": pa.uint32(),
    "prev_tone_ticks": pa.uint32(),
    "prev_tone_hacks": pa.uint16(),
    "prev_tone_flags": pa.uint8(),
    "prev_tone_flywheel": pa.uint8(),
    "filter_status": pa.uint32(),
    "event_time": pa.float64(),
}


def merged_file_name(run_id: int, first_gem: int, revision: int = 1) -> str:
    """File name of a merged span: ``r<run 10 digits>-e<first GEM sequence 20 digits>.arrow``.

    A file written by a later run revision (late data merged into a retired run) is named
    ``…-e<first GEM>-v<revision 3 digits>.arrow``: it goes beside the file it replaces.
    """
    suffix = f"-v{revision:03d}" if revision > 1 else ""
    return f"{run_folder(run_id)}-e{first_gem:020d}{suffix}.arrow"


def merged_batch(
    columns: dict[str, np.ndarray],
    records: np.ndarray,
    offsets: np.ndarray,
    run_id: int,
    delivery_id: str,
) -> pa.RecordBatch:
    """The Arrow record batch of one merged span (the records are not copied).

    ``records`` holds the event records back to back in output order; ``offsets`` has one entry
    per event plus the end (int64).
    """
    n = int(offsets.shape[0]) - 1
    arrays = []
    for name, typ in COLUMN_TYPES.items():
        values = np.asarray(columns[name])
        if values.shape != (n,):
            raise ValueError(f"column {name!r}: expected {n} values, got shape {values.shape}")
        arrays.append(pa.array(values.astype(typ.to_pandas_dtype(), copy=False), type=typ))
    arrays.append(
        pa.Array.from_buffers(
            pa.large_binary(),
            n,
            [None, pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int64)), pa.py_buffer(records)],
        )
    )
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "run_id": str(run_id),
        "delivery_id": delivery_id,
    }
    schema = pa.schema(
        [pa.field(k, t) for k, t in COLUMN_TYPES.items()] + [pa.field("record", pa.large_binary())]
    )
    return pa.record_batch(arrays, schema=schema.with_metadata(meta))


def write_merged(path: str | os.PathLike[str], batch: pa.RecordBatch) -> str:
    """Write the merged span ``batch`` (:func:`merged_batch`) atomically to ``path``; return its SHA-256.

    Arrow writes the file directly (no copy of the file in memory); its SHA-256 is taken from the
    written file before it is renamed into place.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(final) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        return sha256_file(tmp)


@dataclass
class MergedEvents:
    """Contents of one merged event file.

    Attributes
    ----------
    records_buffer : uint8 array
        All event records, back to back, in merged order (memory-mapped when possible).
    offsets, lengths : int64 arrays
        Start and length of each record in :attr:`records_buffer`.
    columns : dict of numpy arrays
        Every column but ``record`` (see the module docstring).
    metadata : dict
        ``run_id``, ``delivery_id``, ``format``, ``format_version``.
    """

    records_buffer: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    columns: dict[str, np.ndarray]
    metadata: dict[str, str]

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def record(self, i: int) -> bytes:
        """Bytes of record ``i`` (convenience for tests and debugging)."""
        o = int(self.offsets[i])
        return self.records_buffer[o : o + int(self.lengths[i])].tobytes()


def read_merged(path: str | os.PathLike[str], sha256: str | None = None) -> MergedEvents:
    """Read (memory-map) a merged event file; with ``sha256`` the file's checksum is verified first.

    The checksum of a file this process already verified and that has not changed since is not
    computed again (:func:`fermi_core.checksum.sha256_file_unchanged`): L1 reads one merged file
    once per recon crumb. Nothing is copied: the records and columns are views of the mapping.

    Raises
    ------
    ValueError
        If the checksum differs or the file is not a merged event file (names the path).
    """
    path = Path(path)
    if sha256 is not None:
        digest = sha256_file_unchanged(path)
        if digest != sha256:
            raise ValueError(f"{path}: SHA-256 {digest} differs from the recorded {sha256}")
    with pa.memory_map(str(path), "r") as source:
        table = ipc.open_file(source).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a merged event file (format {meta.get('format')!r})")
    if int(meta.get("format_version", "0")) != FORMAT_VERSION:
        raise ValueError(
            f"{path}: merged file format version {meta.get('format_version')} is not {FORMAT_VERSION}"
        )
    column = table.column("record")
    # the writer makes one batch per file; combine_chunks would copy even a single chunk
    rec = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    bufs = rec.buffers()
    n = len(rec)
    off_all = np.frombuffer(bufs[1], dtype=np.int64)[rec.offset : rec.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
    base = int(off_all[0]) if n else 0
    columns = {name: table.column(name).to_numpy() for name in COLUMN_TYPES}
    return MergedEvents(
        records_buffer=data[base : int(off_all[-1])] if n else data[:0],
        offsets=(off_all[:-1] - base).astype(np.int64),
        lengths=np.diff(off_all).astype(np.int64),
        columns=columns,
        metadata=meta,
    )
