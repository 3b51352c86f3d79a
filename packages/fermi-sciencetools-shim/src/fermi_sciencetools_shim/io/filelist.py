"""Expansion of a file parameter into file names (ScienceTools ``@list`` convention)."""

from __future__ import annotations

from pathlib import Path

from fermi_sciencetools_shim.errors import InputFileError, ParameterError

_FITS_MAGIC = b"SIMPLE  ="
_GZIP_MAGIC = b"\x1f\x8b"


def _is_fits(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(len(_FITS_MAGIC))
    return head.startswith(_FITS_MAGIC) or head.startswith(_GZIP_MAGIC)


def _read_list(listfile: Path, param: str) -> list[Path]:
    if not listfile.is_file():
        raise InputFileError(listfile, f"list file given for parameter {param!r} does not exist")
    names: list[Path] = []
    try:
        lines = listfile.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputFileError(
            listfile, f"neither a FITS file nor a text list of files (parameter {param!r})"
        ) from None
    for lineno, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        path = Path(text)
        if not path.is_absolute() and not path.exists() and (listfile.parent / path).exists():
            # A relative name is taken from the working directory, as the ScienceTools do,
            # falling back to the list file's folder so that a list can travel with its files.
            path = listfile.parent / path
        if not path.is_file():
            raise InputFileError(
                path, f"no such file (line {lineno} of list file {listfile}, parameter {param!r})"
            )
        names.append(path)
    if not names:
        raise InputFileError(listfile, f"list file given for parameter {param!r} names no file")
    return names


def expand_file_list(value: str, param: str) -> list[Path]:
    """Return the files named by a file parameter.

    Parameters
    ----------
    value
        A FITS file name, ``@listfile`` (a text file with one FITS file name per line;
        blank lines and ``#`` comments are skipped), or the name of such a text file
        without the ``@`` (the ScienceTools accept both).
    param
        Parameter name, used in error messages.

    Returns
    -------
    list of pathlib.Path
        The files, in list order.

    Raises
    ------
    ParameterError
        If ``value`` is empty.
    InputFileError
        If a named file (or the list file) does not exist, or a list names no file.
    """
    text = str(value).strip()
    if not text or text.upper() == "NONE":
        raise ParameterError(param, "no file given")
    if text.startswith("@"):
        return _read_list(Path(text[1:]), param)
    path = Path(text)
    if not path.is_file():
        raise InputFileError(path, f"no such file (parameter {param!r})")
    if _is_fits(path):
        return [path]
    return _read_list(path, param)
