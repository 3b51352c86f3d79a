"""Opening input FITS files safely: one clear error for a missing, empty, foreign or truncated file.

astropy opens a file lazily: a truncated file fails only when its data are read (a
``TypeError`` deep in numpy), a truncated gzip file just looks shorter, and a text file fails
with a multi-line ``OSError``. :func:`open_fits` checks everything up front and raises one
:class:`~fermi_sciencetools_shim.errors.InputFileError` naming the file, the byte offset when
it is known, and the reason, before any tool has written anything.
"""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from pathlib import Path

from astropy.io import fits

from fermi_sciencetools_shim.errors import InputFileError

_FITS_MAGIC = b"SIMPLE  ="
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_BLOCK = 2880


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_gzip(path: Path) -> int:
    """Decompress ``path`` to its end (discarding the output) and return the decompressed size."""
    done = 0
    try:
        with gzip.open(path, "rb") as stream:
            while True:
                block = stream.read(_CHUNK)
                if not block:
                    break
                done += len(block)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputFileError(
            path,
            f"truncated or corrupt gzip file (decompression stops after {done} bytes: {_first_line(exc)})",
        ) from None
    return done


def _checked(path: str | os.PathLike[str]) -> tuple[Path, int]:
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "no such file")
    size = p.stat().st_size
    if size == 0:
        raise InputFileError(p, "file is empty (0 bytes), not a FITS file")
    with p.open("rb") as handle:
        head = handle.read(len(_FITS_MAGIC))
    if head.startswith(_GZIP_MAGIC):
        size = _check_gzip(p)
        with gzip.open(p, "rb") as stream:
            head = stream.read(len(_FITS_MAGIC))
    if not head.startswith(_FITS_MAGIC):
        raise InputFileError(p, f"not a FITS file (starts with {head[:9]!r}, not 'SIMPLE  =')")
    return p, size


def check_fits_file(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is a non-empty FITS (or gzipped FITS) file and return it as a Path.

    Only the first bytes are read, plus a full decompression pass for gzip files.

    Raises
    ------
    InputFileError
        For a missing or empty file, a file that does not start like FITS, or a truncated
        gzip stream.
    """
    return _checked(path)[0]


def open_fits(path: str | os.PathLike[str]) -> fits.HDUList:
    """Open an input FITS file after checking that every HDU is complete.

    Returns an open (memory-mapped) :class:`astropy.io.fits.HDUList`; the caller closes it.

    Raises
    ------
    InputFileError
        For a missing, empty or non-FITS file, an unreadable header, or a file shorter than
        its headers say (truncated), naming the HDU and the byte offsets.
    """
    p, size = _checked(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "File may have been truncated": checked below
            hdul = fits.open(p, memmap=True)
            hdul.readall()
    except (OSError, ValueError, TypeError, EOFError, IndexError, KeyError) as exc:
        raise InputFileError(p, f"not a readable FITS file ({_first_line(exc)})") from None
    for index, hdu in enumerate(hdul):
        info = hdul.fileinfo(index)
        if info is None:
            continue
        end = int(info["datLoc"]) + int(info["datSpan"])
        if end > size:
            hdul.close()
            raise InputFileError(
                p,
                f"truncated: HDU {index} ({hdu.name or 'PRIMARY'}) needs bytes {info['datLoc']}..{end} "
                f"but the file ends at byte {size}",
            )
    if size % _BLOCK:
        hdul.close()
        raise InputFileError(
            p,
            f"truncated or damaged: its size ({size} bytes) is not a multiple of the FITS block of {_BLOCK} bytes",
        )
    return hdul
