"""The monitoring histograms of one run version and their file (one compact Parquet file per run version).

A :class:`Histogram` is counts on one or more axes with their bin edges and a little metadata
(``axes``: axis names, ``labels``: element names of categorical axes, ``unit``, ``title``,
``kind``: ``counts`` (sums over crumbs/events) or ``profile`` (a value per bin, e.g. the live
fraction per time bin)). The file (``gll_mon_r<run10>_v<ver>.parquet``, data type ``MONITOR``)
has one row per histogram: ``name``, ``shape``, ``edges`` (the axes' edges one after the other),
``counts`` (C order), ``meta`` (JSON), and the run summary (events, span, live time, rates) in
the schema metadata ``fermi.monitor.summary``. Writing is deterministic (same histograms, same
bytes) and atomic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fermi_core.atomic import atomic_output
from fermi_core.errors import BadInput
from fermi_core.site import run_folder

FORMAT = b"fermi-l1-monitor"
FORMAT_VERSION = 1
#: catalog data type of the monitoring file
DATA_TYPE = "MONITOR"


class MonitorFileError(BadInput, ValueError):
    """A monitoring file (or crumb histogram file) that is unreadable or not of this format (names it)."""


@dataclass
class Histogram:
    """Counts on one or more axes (``edges``: one array of bin edges per axis)."""

    name: str
    edges: list[np.ndarray]
    counts: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.float64)
        self.edges = [np.asarray(e, dtype=np.float64) for e in self.edges]
        if self.counts.ndim != len(self.edges) or any(
            e.size != n + 1 for e, n in zip(self.edges, self.counts.shape, strict=True)
        ):
            raise ValueError(f"histogram {self.name}: edges do not fit counts of shape {self.counts.shape}")

    @property
    def total(self) -> float:
        """Sum of the counts."""
        return float(self.counts.sum())

    def element(self, index: tuple[int, ...]) -> str:
        """Name of one bin, e.g. ``tower 5, layer 12Y`` (from the axes' labels or bin edges)."""
        axes = self.meta.get("axes") or [f"axis{i}" for i in range(self.counts.ndim)]
        labels = self.meta.get("labels") or {}
        parts = []
        for ax, (axis, i) in enumerate(zip(axes, index, strict=True)):
            names = labels.get(axis)
            if names is not None:
                parts.append(f"{axis} {names[i]}")
            else:
                lo, hi = self.edges[ax][i], self.edges[ax][i + 1]
                parts.append(f"{axis} {lo:g}..{hi:g}")
        return ", ".join(parts)


def monitor_filename(run: int, version: int) -> str:
    """File name of a run version's monitoring file (``gll_mon_r0239557414_v001.parquet``)."""
    return f"gll_mon_{run_folder(run)}_v{int(version):03d}.parquet"


def write_histograms(
    path: str | os.PathLike[str],
    hists: Mapping[str, Histogram],
    summary: Mapping[str, Any],
    *,
    extra_meta: Mapping[str, str] | None = None,
) -> Path:
    """Write histograms and the run summary to one Parquet file (atomic, deterministic bytes)."""
    names = sorted(hists)
    table = pa.table(
        {
            "name": pa.array(names, pa.string()),
            "shape": pa.array([list(hists[n].counts.shape) for n in names], pa.list_(pa.int64())),
            "edges": pa.array(
                [np.concatenate(hists[n].edges).tolist() for n in names], pa.list_(pa.float64())
            ),
            "counts": pa.array([hists[n].counts.ravel().tolist() for n in names], pa.list_(pa.float64())),
            "meta": pa.array([json.dumps(hists[n].meta, sort_keys=True) for n in names], pa.string()),
        }
    )
    meta = {
        b"fermi.format": FORMAT,
        b"fermi.format_version": str(FORMAT_VERSION).encode(),
        b"fermi.monitor.summary": json.dumps(dict(summary), sort_keys=True).encode(),
        **{k.encode(): v.encode() for k, v in (extra_meta or {}).items()},
    }
    table = table.replace_schema_metadata(meta)
    with atomic_output(Path(path)) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


def read_histograms(path: str | os.PathLike[str]) -> tuple[dict[str, Histogram], dict[str, Any]]:
    """Read a file of :func:`write_histograms`: ``(name -> Histogram, summary)``.

    Raises
    ------
    MonitorFileError
        A missing or unreadable file, or one of another format.
    """
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise MonitorFileError(f"{path}: cannot read as Parquet: {exc}") from None
    meta = table.schema.metadata or {}
    if meta.get(b"fermi.format") != FORMAT:
        raise MonitorFileError(f"{path}: not a monitoring file (no fermi.format={FORMAT.decode()} metadata)")
    if meta.get(b"fermi.format_version") != str(FORMAT_VERSION).encode():
        raise MonitorFileError(
            f"{path}: monitoring format version {meta.get(b'fermi.format_version')!r} unknown"
        )
    cols = table.to_pydict()
    out = {}
    for name, shape, edges, counts, m in zip(
        cols["name"], cols["shape"], cols["edges"], cols["counts"], cols["meta"], strict=True
    ):
        flat = np.asarray(edges, dtype=np.float64)
        cuts = np.cumsum([n + 1 for n in shape])[:-1]
        out[name] = Histogram(
            name, list(np.split(flat, cuts)), np.asarray(counts).reshape(shape), json.loads(m)
        )
    return out, json.loads(meta.get(b"fermi.monitor.summary", b"{}"))
