"""Deterministic FITS products: a fixed ``DATE`` and checksums that do not carry the wall clock.

The shim writers stamp ``DATE`` with the current time and astropy writes the checksum time in
the ``CHECKSUM``/``DATASUM`` comments, so two runs never give the same bytes. L1 products must
be byte-identical when a run is re-processed, so after writing, :func:`stamp_date` sets
``DATE`` in every HDU to the *processing date* (chosen once per run by the pipeline and kept in
its run-state table) and recomputes the checksums with that same date in their comments.

Products are made in a hidden work folder beside their final place (:func:`product_work_dir`) and
renamed into place only when stamped, so a file under a product's name is always a finished
product; the work folder of an attempt that was killed is removed by the next attempt.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from astropy.io import fits

from fermi_core.atomic import atomic_output

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def processing_date(now: _dt.datetime | None = None) -> str:
    """Return a ``DATE`` value (UTC, ``YYYY-MM-DDThh:mm:ss``) for ``now`` (default: the current time)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def stamp_date(
    path: str | os.PathLike[str],
    date: str,
    keywords: Mapping[str, tuple[object, str]] | None = None,
) -> Path:
    """Set ``DATE`` to ``date`` in every HDU of ``path`` and rewrite it with reproducible checksums.

    Parameters
    ----------
    path
        A FITS file, rewritten in place (atomically), before it becomes a product.
    date
        ``YYYY-MM-DDThh:mm:ss`` (UTC).
    keywords
        ``{KEYWORD: (value, comment)}`` set in the primary header and the ``EVENTS`` header too.

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
        for i, hdu in enumerate(hdul):
            if keywords and (i == 0 or hdu.name == "EVENTS"):
                for name, (value, comment) in keywords.items():
                    hdu.header[name] = (value, comment)
            if "DATE" in hdu.header:
                hdu.header["DATE"] = date
            hdu.add_datasum(when=f"data unit checksum updated {date}")
            hdu.add_checksum(when=f"HDU checksum updated {date}", override_datasum=True)
        with atomic_output(target) as tmp:
            hdul.writeto(tmp, checksum=False)
    return target


@contextmanager
def product_work_dir(outdir: str | os.PathLike[str], prefix: str) -> Iterator[Path]:
    """Yield a fresh work folder ``<outdir>/<prefix>XXXXXXXX`` for products in the making.

    Work folders with the same ``prefix`` are removed first: they were left by an attempt that was
    killed (a run's products are made by one attempt at a time), and their files carry product
    names. The folder is removed when the block ends, whether it succeeds or not.

    Parameters
    ----------
    outdir
        Where the products go (the work folder is on the same file system: moves are renames).
    prefix
        Hidden-folder prefix naming the product set, e.g. ``.ft1-239557414-v001-``.

    Raises
    ------
    ValueError
        If ``prefix`` does not start with a dot or contains a path separator.
    """
    if not prefix.startswith(".") or "/" in prefix or os.sep in prefix:
        raise ValueError(f"parameter 'prefix': {prefix!r} must be a hidden name (leading dot, no separator)")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(out.glob(f"{prefix}*")):
        if stale.is_dir():
            _remove_tree(stale)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=out))
    try:
        yield work
    finally:
        _remove_tree(work)


def _remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
