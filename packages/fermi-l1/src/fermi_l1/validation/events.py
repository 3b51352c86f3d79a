"""Event-level comparison: read the event files of both sides, match events by RUN_ID + EVENT_ID.

Reports the events removed (in the old version only), added (in the new only), and, of the
matched ones, which columns changed (``|new - old| > atol + rtol |old|``, NaN equal to NaN;
exact for logical columns), plus events whose key appears twice in one version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fermi_sciencetools_shim.errors import InputFileError
from fermi_sciencetools_shim.io.fitsfile import open_fits
from fermi_sciencetools_shim.io.ft1 import read_events

#: The columns that identify an event.
KEY_COLUMNS = ("RUN_ID", "EVENT_ID")


@dataclass
class EventTable:
    """The events of one side, all runs concatenated in run order."""

    columns: dict[str, np.ndarray]
    units: dict[str, str]
    per_file: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.columns["RUN_ID"].shape[0]) if self.columns else 0


def _units(header) -> dict[str, str]:
    out = {}
    for i in range(1, int(header.get("TFIELDS", 0)) + 1):
        name = str(header.get(f"TTYPE{i}", "")).upper()
        unit = header.get(f"TUNIT{i}")
        if name and unit:
            out[name] = str(unit).strip()
    return out


def read_event_files(paths: Sequence[Path]) -> EventTable:
    """Read every column of the EVENTS extensions of ``paths`` (only columns all files have)."""
    parts: list[dict[str, np.ndarray]] = []
    units: dict[str, str] = {}
    per_file = {}
    for path in paths:
        data, header = read_events(path)
        parts.append(data)
        units.update(_units(header))
        per_file[str(path)] = int(data["RUN_ID"].shape[0]) if "RUN_ID" in data else 0
    common = [c for c in parts[0] if all(c in p for p in parts)] if parts else []
    columns = {c: np.concatenate([p[c] for p in parts]) for c in common}
    return EventTable(columns, units, per_file)


def count_events(path: Path, evtable: str = "EVENTS") -> int:
    """Number of rows of the EVENTS extension of ``path`` (read from its header, not its data)."""
    with open_fits(path) as hdul:
        try:
            return int(hdul[evtable].header["NAXIS2"])
        except KeyError:
            raise InputFileError(path, f"has no {evtable} extension with NAXIS2") from None


def event_keys(table: EventTable) -> np.ndarray:
    """``RUN_ID << 32 | EVENT_ID`` of every event (``int64``)."""
    run = table.columns["RUN_ID"].astype(np.int64)
    evt = table.columns["EVENT_ID"].astype(np.int64) & 0xFFFFFFFF
    return (run << 32) | evt


def split_key(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(RUN_ID, EVENT_ID)`` of :func:`event_keys` values."""
    key = np.asarray(key, dtype=np.int64)
    return key >> 32, key & 0xFFFFFFFF


def changed_mask(old: np.ndarray, new: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Per row: True where ``new`` differs from ``old`` beyond the tolerance (any element of a vector)."""
    a, b = np.asarray(old), np.asarray(new)
    exact = atol == 0 and rtol == 0
    if "b" in (a.dtype.kind, b.dtype.kind) or (exact and a.dtype.kind in "iu" and b.dtype.kind in "iu"):
        diff = a != b
    elif a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        both_nan = np.isnan(a64) & np.isnan(b64)
        with np.errstate(invalid="ignore"):
            diff = ~((np.abs(b64 - a64) <= atol + rtol * np.abs(a64)) | both_nan)
    else:
        diff = a != b
    return diff.reshape(diff.shape[0], -1).any(axis=1) if diff.ndim > 1 else diff


@dataclass
class EventDiff:
    """The event-level differences of two event tables."""

    n_old: int
    n_new: int
    removed: np.ndarray  # keys
    added: np.ndarray  # keys
    matched: int
    changed: np.ndarray  # keys of matched events with a changed column
    changed_columns: dict[str, int]  # column -> events changed in it
    listed: list[dict] = field(default_factory=list)  # the first changed events with their values
    duplicates_old: int = 0
    duplicates_new: int = 0
    only_old_columns: list[str] = field(default_factory=list)
    only_new_columns: list[str] = field(default_factory=list)
    changes_by_key: dict[int, list[str]] = field(default_factory=dict)


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    uniq, first = np.unique(keys, return_index=True)
    return uniq, first, int(keys.size - uniq.size)


def _scalar(value: np.ndarray | np.generic) -> object:
    v = np.asarray(value)
    return v.tolist() if v.ndim else v.item()


def compare_events(
    old: EventTable, new: EventTable, *, atol: float = 0.0, rtol: float = 0.0, max_listed: int = 200
) -> EventDiff:
    """Match ``old`` and ``new`` events by RUN_ID + EVENT_ID and find what changed.

    Parameters
    ----------
    old, new
        The two sides' events.
    atol, rtol
        Tolerance of a numeric column: changed when ``|new - old| > atol + rtol |old|``.
    max_listed
        How many changed events are listed with their old and new values.
    """
    k_old, k_new = event_keys(old), event_keys(new)
    u_old, i_old, dup_old = _unique(k_old)
    u_new, i_new, dup_new = _unique(k_new)
    common, a_idx, b_idx = np.intersect1d(u_old, u_new, assume_unique=True, return_indices=True)
    ia, ib = i_old[a_idx], i_new[b_idx]
    removed = np.setdiff1d(u_old, u_new, assume_unique=True)
    added = np.setdiff1d(u_new, u_old, assume_unique=True)
    names = [c for c in old.columns if c in new.columns and c not in KEY_COLUMNS]
    any_changed = np.zeros(common.size, dtype=bool)
    per_column: dict[str, np.ndarray] = {}
    for name in names:
        mask = changed_mask(old.columns[name][ia], new.columns[name][ib], atol, rtol)
        if mask.any():
            per_column[name] = mask
            any_changed |= mask
    rows = np.flatnonzero(any_changed)
    changes_by_key = {int(common[r]): [n for n, m in per_column.items() if m[r]] for r in rows}
    listed = []
    for r in rows[:max_listed]:
        run, evt = split_key(common[r : r + 1])
        listed.append({
            "run_id": int(run[0]), "event_id": int(evt[0]),
            "columns": {n: {"old": _scalar(old.columns[n][ia[r]]), "new": _scalar(new.columns[n][ib[r]])}
                        for n, m in per_column.items() if m[r]},
        })  # fmt: skip
    return EventDiff(
        n_old=len(old), n_new=len(new), removed=removed, added=added, matched=int(common.size),
        changed=common[rows], changed_columns={n: int(m.sum()) for n, m in per_column.items()},
        listed=listed, duplicates_old=dup_old, duplicates_new=dup_new,
        only_old_columns=sorted(set(old.columns) - set(new.columns)),
        only_new_columns=sorted(set(new.columns) - set(old.columns)), changes_by_key=changes_by_key,
    )  # fmt: skip
