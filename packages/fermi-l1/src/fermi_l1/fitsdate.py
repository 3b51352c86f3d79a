"""Deterministic FITS products: a fixed ``DATE`` and checksums that do not carry the wall clock.

The shim writers stamp ``DATE`` with the current time and astropy writes the checksum time in
the ``CHECKSUM``/``DATASUM`` comments, so two runs never give the same bytes. L1 products must
be byte-identical when a run is re-processed, so after writing, :func:`stamp_date` sets
``DATE`` in every HDU to the *processing date* (chosen once per run by the pipeline and kept in
its run-state table) and recomputes the checksums with that same date in their comments.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

from astropy.io import fits

from fermi_sciencetools_shim._atomic import atomic_output

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def processing_date(now: _dt.datetime | None = None) -> str:
    """Return a ``DATE`` value (UTC, ``YYYY-MM-DDThh:mm:ss``) for ``now`` (default: the current time)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def stamp_date(path: str | os.PathLike[str], date: str) -> Path:
    """Set ``DATE`` to ``date`` in every HDU of ``path`` and rewrite it with reproducible checksums.

    Parameters
    ----------
    path
        A FITS file, rewritten in place (atomically).
    date
        ``YYYY-MM-DDThh:mm:ss`` (UTC).

    Raises
    ------
    ValueError
        If ``date`` is not in that format.
    """
    if not _DATE.match(date):
        raise ValueError(f"date {date!r}: expected YYYY-MM-DDThh:mm:ss (UTC)")
    target = Path(path)
    with fits.open(target, memmap=False) as hdul:
        hdul.verify("silentfix")
        for hdu in hdul:
            if "DATE" in hdu.header:
                hdu.header["DATE"] = date
            hdu.add_datasum(when=f"data unit checksum updated {date}")
            hdu.add_checksum(when=f"HDU checksum updated {date}", override_datasum=True)
        with atomic_output(target) as tmp:
            hdul.writeto(tmp, checksum=False)
    return target
