"""Data-subspace (DSS) keywords: the record of the cuts applied to an event file.

``NDSKEYS = n`` and, for k = 1..n, ``DSTYPk`` (what was cut), ``DSUNIk`` (unit),
``DSVALk`` (value or range) and optionally ``DSREFk`` (e.g. ``:GTI``). Order matters:
gtselect writes the cuts in its own bookkeeping order and later tools keep it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from astropy.io import fits

_DS_KEY = re.compile(r"^DS(TYP|UNI|VAL|REF)(\d+)$")


@dataclass(frozen=True)
class DssKey:
    """One DSS entry (``DSTYPk``/``DSUNIk``/``DSVALk``/``DSREFk``)."""

    type: str
    unit: str
    value: str
    ref: str | None = None


def read_dss(header: fits.Header) -> list[DssKey]:
    """Return the DSS entries of ``header`` in index order (``DSTYP1`` first).

    Entries are numbered 1..``NDSKEYS``; when ``NDSKEYS`` is absent, every ``DSTYPk``
    found is used. An entry without ``DSTYPk`` is skipped.
    """
    count = header.get("NDSKEYS")
    if count is None:
        indices = sorted({int(m.group(2)) for key in header for m in [_DS_KEY.match(key)] if m})
    else:
        indices = list(range(1, int(count) + 1))
    keys: list[DssKey] = []
    for k in indices:
        typ = header.get(f"DSTYP{k}")
        if typ is None:
            continue
        ref = header.get(f"DSREF{k}")
        keys.append(
            DssKey(
                type=str(typ),
                unit=str(header.get(f"DSUNI{k}", "")),
                value=str(header.get(f"DSVAL{k}", "")),
                ref=None if ref is None else str(ref),
            )
        )
    return keys


def remove_dss(header: fits.Header) -> None:
    """Delete ``NDSKEYS`` and every ``DSTYP/DSUNI/DSVAL/DSREF`` keyword from ``header``."""
    for key in [key for key in header if _DS_KEY.match(key) or key == "NDSKEYS"]:
        while key in header:
            del header[key]


def write_dss(header: fits.Header, keys: Sequence[DssKey]) -> None:
    """Replace the DSS keywords of ``header`` by ``keys``.

    The old keys are removed first; the new ones are appended at the end of the header
    as dataSubselector does: ``DSTYPk``, ``DSUNIk``, ``DSVALk`` (and ``DSREFk``) for each
    entry in order, then ``NDSKEYS``.
    """
    remove_dss(header)
    for k, key in enumerate(keys, start=1):
        header.append((f"DSTYP{k}", key.type), end=True)
        header.append((f"DSUNI{k}", key.unit), end=True)
        header.append((f"DSVAL{k}", key.value), end=True)
        if key.ref is not None:
            header.append((f"DSREF{k}", key.ref), end=True)
    header.append(("NDSKEYS", len(keys)), end=True)
