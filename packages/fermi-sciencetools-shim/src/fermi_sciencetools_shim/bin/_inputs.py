"""The event input of gtbin: its columns over all event files, and the union of their GTIs.

Reading is done by :mod:`fermi_sciencetools_shim.io` (file lists, FT1 tables, GTIs); this
module only gathers what the binners need: the requested columns as float64, concatenated in
file order, the first file's event header and the evtbin GTI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from fermi_sciencetools_shim.gti import Gti, union
from fermi_sciencetools_shim.io.ft1 import read_events, read_gti
from fermi_sciencetools_shim.io.progress import Progress


@dataclass
class EventInput:
    """Columns of the event file(s), the union of their GTIs and the first EVENTS header."""

    columns: dict[str, np.ndarray]
    gti: Gti
    header: fits.Header
    paths: list[Path]


def read_event_input(
    paths: Sequence[Path], columns: Sequence[str], evtable: str = "EVENTS", progress_chatter: int | None = 0
) -> EventInput:
    """Read ``columns`` (float64, keyed as given) of every event file, concatenated, and the GTI union.

    The GTI is consolidated like evtbin's (touching intervals merged) even for one file.
    With several files, progress is shown on a terminal when ``progress_chatter >= 2``.

    Raises
    ------
    InputFileError
        If a file lacks the event table, a column or the ``GTI`` extension, or has a
        malformed GTI.
    """
    if not paths:
        raise ValueError("no event file given")
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    header: fits.Header | None = None
    with Progress("gtbin: reading event files", len(paths) if len(paths) > 1 else 0, progress_chatter) as bar:
        for number, path in enumerate(paths, start=1):
            data, hdr = read_events(path, list(columns), evtable)
            if header is None:
                header = hdr
            for c in columns:
                parts[c].append(np.asarray(data[c.upper()], dtype=np.float64).ravel())
            bar.update(number)
    assert header is not None
    gti = union(read_gti(paths))
    return EventInput({c: np.concatenate(v) for c, v in parts.items()}, gti, header, list(paths))
