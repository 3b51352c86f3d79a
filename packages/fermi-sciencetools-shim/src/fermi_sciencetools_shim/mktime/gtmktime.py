"""``gtmktime``: make good time intervals from an FT2 filter and apply them to an FT1 file.

Rules (dataSubselector ``gtmktime``):

1. ``tmin``/``tmax`` = ``TSTART``/``TSTOP`` of the event extension.
2. ``roicut=yes`` with a ``ZENITH_ANGLE`` range (max < 180) and a cone in the event DSS
   keys appends ``&& angsep(RA_ZENITH,DEC_ZENITH,ra,dec) < zmax - radius`` to the filter.
3. For each FT2 file, the rows passing the filter are walked (:func:`ft2_gti`); the
   per-file intervals are united.
4. The result is intersected with the event file's GTI (``overwrite=no``), or with
   ``[TSTART, TSTOP]`` (``overwrite=yes``, ``header_obstimes=yes``) or ``[tstart, tstop]``.
5. Events inside the new GTI (closed intervals) are copied; the GTI extension is replaced
   (``ONTIME`` updated); ``FILENAME`` = output basename; DSS keys and ``TSTART``/``TSTOP``
   are left as they are.

Differences from the ScienceTools, on purpose: a filter that the ScienceTools would accept
but this module's parser does not know is an error, not a silent cfitsio extension; an
FT2 set that does not cover the event times is an error (the ScienceTools silently drop
those events); an event file without a GTI extension is intersected with
``[TSTART, TSTOP]``; FT2 rows out of time order (a repeated ``START``) or with
``STOP < START`` are refused naming the file and row; a missing, empty, non-FITS or
truncated file, or an output folder that does not exist, is one error line before any work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from fermi_sciencetools_shim.atomic import atomic_output
from fermi_sciencetools_shim.errors import InputFileError, ParameterError
from fermi_sciencetools_shim.gti import Gti, intersection, union
from fermi_sciencetools_shim.io._layout import table_hdu
from fermi_sciencetools_shim.io.dss import read_dss
from fermi_sciencetools_shim.io.filelist import expand_file_list
from fermi_sciencetools_shim.io.fitsfile import open_fits
from fermi_sciencetools_shim.io.ft1 import GTI_COLUMNS, native, read_gti_file
from fermi_sciencetools_shim.io.ft2 import check_ft2_rows, read_ft2
from fermi_sciencetools_shim.io.headers import set_ontime
from fermi_sciencetools_shim.io.outfile import check_outfile
from fermi_sciencetools_shim.mktime.filter_expr import parse_filter
from fermi_sciencetools_shim.mktime.ft2_gti import ft2_gti
from fermi_sciencetools_shim.params import Parameter, run_command, tool_parameters

TOOL = "gtmktime"
SUMMARY = "Create GTIs from a spacecraft-file filter and apply them to an event file."
DEFAULT_FILTER = "DATA_QUAL>0 && LAT_CONFIG==1 && ABS(ROCK_ANGLE)<52"

# The one definition of the parameters: the shipped pfiles/gtmktime.par (hoops/ape semantics).
PARAMETERS: list[Parameter] = tool_parameters(TOOL)

_CIRCLE = re.compile(r"CIRCLE\(\s*([^,]+),\s*([^,]+),\s*([^)]+)\)", re.IGNORECASE)


@dataclass(frozen=True)
class MktimeResult:
    """What :func:`gtmktime` did."""

    outfile: Path
    filter: str
    gti: Gti
    n_events_in: int
    n_events_out: int


def roi_zenith_cut(header: fits.Header) -> str:
    """Return the ``&& angsep(RA_ZENITH,...) < zmax - radius`` filter text from DSS keys, or ``""``.

    Needs a ``ZENITH_ANGLE`` range with max < 180 and a ``CIRCLE`` cone; numbers are
    printed with 6 significant digits as the C++ stream of gtmktime does.
    """
    zmax = 180.0
    cone = None
    for key in read_dss(header):
        if key.type.upper() == "ZENITH_ANGLE" and ":" in key.value:
            upper = key.value.split(":", 1)[1].strip()
            if upper:
                zmax = float(upper)
        m = _CIRCLE.match(key.value.strip()) if key.type.upper().startswith("POS(") else None
        if m and cone is None:
            cone = tuple(float(x) for x in m.groups())
    if zmax >= 180.0 or cone is None:
        return ""
    ra, dec, radius = cone
    return f" && angsep(RA_ZENITH,DEC_ZENITH,{ra:.6g},{dec:.6g}) < {zmax - radius:.6g}"


def _event_times(path: Path, evtable: str) -> tuple[fits.Header, np.ndarray, bool]:
    with open_fits(path) as hdul:
        names = [h.name for h in hdul]
        if evtable.upper() not in names:
            raise InputFileError(path, f"has no {evtable} extension (HDUs: {', '.join(names)})")
        hdu = hdul[evtable]
        header = hdu.header.copy()
        if "TIME" not in [c.upper() for c in hdu.columns.names]:
            raise InputFileError(path, f"{evtable} has no TIME column")
        times = native(hdu.data.field("TIME")).astype(np.float64) if hdu.data is not None else np.empty(0)
        has_gti = "GTI" in names
    for key in ("TSTART", "TSTOP"):
        if key not in header:
            raise InputFileError(path, f"{evtable} header has no {key} keyword")
    return header, times, has_gti


def make_gti(
    scfiles: Sequence[Path], expression: str, sctable: str, tmin: float, tmax: float
) -> tuple[Gti, float, float]:
    """Return the GTI from the FT2 rows passing ``expression``, and the FT2 span (first START, last STOP)."""
    expr = parse_filter(expression)
    pieces = []
    span_lo, span_hi = np.inf, -np.inf
    for path in scfiles:
        with open_fits(path) as hdul:
            if sctable.upper() not in [h.name for h in hdul]:
                raise InputFileError(path, f"has no {sctable} extension")
            available = hdul[sctable].columns.names
        expr.check_columns(available, where=f"{Path(path).name}[{sctable}]")
        cols = read_ft2(path, columns=["START", "STOP", *[c for c in expr.columns if c not in ("START", "STOP")]],
                        sctable=sctable)  # fmt: skip
        check_ft2_rows(path, cols)
        start, stop = cols["START"], cols["STOP"]
        if start.size:
            span_lo, span_hi = min(span_lo, float(start.min())), max(span_hi, float(stop.max()))
        mask = expr.evaluate(cols, start.size)
        if not mask.any():
            raise InputFileError(path, f"zero rows of {sctable} pass the filter {expression!r}")
        pieces.append(ft2_gti(start, stop, mask, tmin, tmax))
    return union(*pieces), span_lo, span_hi


def gtmktime(
    scfile: str | os.PathLike[str],
    filter: str,
    roicut: bool,
    evfile: str | os.PathLike[str],
    outfile: str | os.PathLike[str],
    *,
    sctable: str = "SC_DATA",
    evtable: str = "EVENTS",
    overwrite: bool = False,
    header_obstimes: bool = True,
    tstart: float = 0.0,
    tstop: float = 0.0,
    clobber: bool = True,
    apply_filter: bool = True,
    chatter: int = 2,
) -> MktimeResult:
    """Apply FT2-derived good time intervals to an event file (see the module documentation).

    Parameters
    ----------
    scfile
        FT2 file, or ``@list`` of FT2 files.
    filter
        Row filter on the FT2 columns, e.g. ``"DATA_QUAL>0 && LAT_CONFIG==1"``.
    roicut
        Add the ROI-based zenith-angle cut from the event file's DSS keys.
    evfile, outfile
        Input FT1 and output file (written atomically).
    sctable, evtable
        Extension names.
    overwrite
        Replace rather than intersect the existing GTI: intersect with ``[TSTART, TSTOP]``
        (``header_obstimes=yes``) or ``[tstart, tstop]``.
    header_obstimes, tstart, tstop
        See ``overwrite``.
    clobber
        Overwrite an existing output file.
    apply_filter, chatter
        Accepted for compatibility (ScienceTools: DSS column checking, verbosity).

    Returns
    -------
    MktimeResult
        Output path, filter used, new GTI, events read and written.

    Raises
    ------
    ParameterError
        Malformed filter or unknown FT2 column (with the position), bad parameters.
    InputFileError
        Missing/unreadable file, zero FT2 rows selected, FT2 not covering the events.
    """
    del apply_filter, chatter
    ev_path = Path(os.fspath(evfile))
    if not ev_path.is_file():
        raise InputFileError(ev_path, "no such file (parameter 'evfile')")
    out_path = check_outfile(os.fspath(outfile), clobber)
    if out_path.resolve() == ev_path.resolve():
        raise ParameterError("outfile", "must differ from evfile")
    scfiles = expand_file_list(os.fspath(scfile), "scfile")
    if not str(filter).strip():
        raise ParameterError("filter", "empty filter expression")

    header, times, has_gti = _event_times(ev_path, evtable)
    tmin, tmax = float(header["TSTART"]), float(header["TSTOP"])
    expression = str(filter) + (roi_zenith_cut(header) if roicut else "")
    parse_filter(expression)  # report syntax errors before reading any FT2 file

    gti, span_lo, span_hi = make_gti(scfiles, expression, sctable, tmin, tmax)
    if times.size and (times.min() < span_lo or times.max() > span_hi):
        raise InputFileError(
            scfiles[0] if len(scfiles) == 1 else str(scfile),
            f"spacecraft data cover MET {span_lo:.6f}..{span_hi:.6f} but the events of {ev_path.name} "
            f"span {times.min():.6f}..{times.max():.6f}",
        )

    if overwrite:
        lo, hi = (tmin, tmax) if header_obstimes else (float(tstart), float(tstop))
        if hi < lo:
            raise ParameterError("tstop", f"tstop {hi!r} is before tstart {lo!r}")
        window = Gti(np.array([lo]), np.array([hi]))
    elif has_gti:
        window = read_gti_file(ev_path)
    else:
        window = Gti(np.array([tmin]), np.array([tmax]))
    gti = intersection(gti, window)

    keep = gti.contains(times)
    _write_output(ev_path, out_path, evtable, keep, gti, clobber)
    return MktimeResult(out_path, expression, gti, int(times.size), int(keep.sum()))


def _gti_table(gti: Gti, header: fits.Header | None) -> fits.BinTableHDU:
    columns = [
        fits.Column(name=spec.name, format=spec.format, array=array)
        for spec, array in zip(GTI_COLUMNS, (gti.start, gti.stop), strict=True)
    ]
    hdu = fits.BinTableHDU.from_columns(columns)
    if header is not None:
        # Keep the input GTI header card for card (astropy would move or drop the column cards).
        new = header.copy()
        new["NAXIS2"] = len(gti)
        hdu.header = new
    else:
        for i, spec in enumerate(GTI_COLUMNS, start=1):
            hdu.header[f"TUNIT{i}"] = spec.unit
        hdu.header["EXTNAME"] = "GTI"
    set_ontime(hdu.header, gti)
    return hdu


def _write_output(
    ev_path: Path, out_path: Path, evtable: str, keep: np.ndarray, gti: Gti, clobber: bool
) -> None:
    with open_fits(ev_path) as hdul:
        out = fits.HDUList()
        for hdu in hdul:
            if isinstance(hdu, fits.PrimaryHDU):
                primary = fits.PrimaryHDU(data=hdu.data, header=hdu.header.copy())
                primary.header["FILENAME"] = out_path.name
                out.append(primary)
            elif hdu.name == evtable.upper():
                out.append(table_hdu(hdu.data[keep], hdu.header.copy()))  # bit columns kept as bytes
            elif hdu.name == "GTI":
                out.append(_gti_table(gti, hdu.header))
            else:
                out.append(hdu.copy())
        if "GTI" not in [h.name for h in hdul]:
            out.append(_gti_table(gti, None))
        try:
            with atomic_output(out_path, clobber=clobber) as tmp:
                out.writeto(tmp, checksum=True)
        except FileExistsError:
            raise ParameterError("outfile", f"{out_path} exists and clobber=no") from None
        except OSError as exc:
            raise ParameterError("outfile", f"{out_path}: cannot write ({exc.strerror or exc})") from None


def _describe(result: MktimeResult) -> str:
    return (
        f"{result.n_events_out} of {result.n_events_in} events kept; "
        f"{len(result.gti)} GTIs, ONTIME {result.gti.ontime:.6f} s -> {result.outfile}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gtmktime`` with ScienceTools ``name=value`` arguments; return the exit code."""
    return run_command(TOOL, SUMMARY, PARAMETERS, gtmktime, argv, describe=_describe)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
