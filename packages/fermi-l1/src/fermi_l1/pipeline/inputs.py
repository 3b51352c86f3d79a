"""The per-run input folder of the FT1/FT2 stage (built from halfpipe output by :mod:`.runinput`).

``<FERMI_HOME>/l1/inputs/r<run10>/`` holds ``run.json`` (``run``, ``start``, ``stop`` and, when
built from the halfpipe, ``provenance``: merged files and spacecraft files with their SHA-256),
``spacecraft.parquet`` (columns ``met``, ``qx qy qz qw``, ``px py pz``, ``vx vy vz``,
``in_saa``, ``lat_mode``, ``lat_config``, ``data_qual`` and, when known, ``sc_mode``, ``flags``,
``attitude_invalid``, ``orbit_invalid``) and ``merit/*.parquet`` (one merit table per chunk).
A folder is complete when ``run.json`` exists (written last).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fermi_l1.merit import MeritError, merit_metadata

_VEC = {
    "quaternion": ("qx", "qy", "qz", "qw"),
    "position": ("px", "py", "pz"),
    "velocity": ("vx", "vy", "vz"),
}
_SCALAR = (
    "met", "in_saa", "lat_mode", "lat_config", "data_qual", "sc_mode", "flags", "attitude_invalid", "orbit_invalid",
)  # fmt: skip


def write_run_inputs(
    folder: str | os.PathLike[str],
    run: int,
    start: float,
    stop: float,
    samples: Mapping[str, np.ndarray],
    merit_chunks: list[Mapping[str, np.ndarray]],
    provenance: Mapping | None = None,
) -> Path:
    """Write a run input folder (``run.json`` last, so readers never see a partial one).

    ``provenance`` (JSON-serialisable) is stored in ``run.json`` as is.
    """
    root = Path(folder)
    (root / "merit").mkdir(parents=True, exist_ok=True)
    columns = {name: np.asarray(samples[name]) for name in _SCALAR if name in samples}
    for key, names in _VEC.items():
        if key in samples:
            for i, name in enumerate(names):
                columns[name] = np.asarray(samples[key])[:, i]
    pq.write_table(pa.table(columns), root / "spacecraft.parquet")
    for i, chunk in enumerate(merit_chunks):
        table = pa.table({k: (list(v) if np.ndim(v) > 1 else np.asarray(v)) for k, v in chunk.items()})
        table = table.replace_schema_metadata(merit_metadata(run))
        pq.write_table(table, root / "merit" / f"chunk{i:04d}.parquet")
    info = {"run": int(run), "start": float(start), "stop": float(stop)}
    if provenance is not None:
        info["provenance"] = provenance
    (root / "run.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    return root


def read_run_inputs(folder: str | os.PathLike[str]) -> tuple[dict, dict[str, np.ndarray], list[Path]]:
    """Return ``(run info, spacecraft samples, merit chunk paths)`` of a run input folder.

    Raises
    ------
    MeritError
        If the folder is incomplete (bad input).
    """
    root = Path(folder)
    try:
        info = json.loads((root / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise MeritError(f"{root}: no readable run.json ({exc})") from None
    if not (root / "spacecraft.parquet").is_file():
        raise MeritError(f"{root}: spacecraft.parquet is missing")
    table = pq.read_table(root / "spacecraft.parquet")
    cols = {n: table.column(n).to_numpy() for n in table.column_names}
    samples = {n: cols[n] for n in _SCALAR if n in cols}
    for key, names in _VEC.items():
        if all(n in cols for n in names):
            samples[key] = np.stack([cols[n] for n in names], axis=1)
    chunks = sorted((root / "merit").glob("*.parquet"))
    if not chunks:
        raise MeritError(f"{root}: no merit chunk in merit/")
    return info, samples, chunks
